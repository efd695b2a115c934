"""WSGI entry point (gunicorn vancelian.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vancelian.settings")
application = get_wsgi_application()
