"""Logging filters referenced from settings.LOGGING."""

from __future__ import annotations

import logging


class OneLineForbidden(logging.Filter):
    """A 403 is a person reaching for something their role does not allow: worth one line (who, where),
    not the traceback Django attaches to every PermissionDenied."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
