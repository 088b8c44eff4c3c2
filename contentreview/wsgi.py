import os

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contentreview.settings")
application = get_wsgi_application()

# Refuse to serve without a real key, even when DEBUG was merely left unset (see settings.py).
try:
    settings.SECRET_KEY  # noqa: B018 - Django raises on an empty key
except ImproperlyConfigured as exc:
    raise ImproperlyConfigured(settings.SECRET_KEY_MISSING) from exc
