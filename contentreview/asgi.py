import os

from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contentreview.settings")
application = get_asgi_application()

# Refuse to serve without a real key, even when DEBUG was merely left unset (see settings.py).
try:
    settings.SECRET_KEY  # noqa: B018 - Django raises on an empty key
except ImproperlyConfigured as exc:
    raise ImproperlyConfigured(settings.SECRET_KEY_MISSING) from exc
