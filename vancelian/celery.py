"""The Celery application, in the Celery docs' Django layout.

Configuration comes from Django settings under the CELERY_ namespace; tasks are
discovered in each app's tasks.py. The release schedule itself lives in the
database (django-celery-beat), not in CELERY_BEAT_SCHEDULE: see docs/scheduling.md.
"""

import os
from logging.config import dictConfig

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vancelian.settings")

app = Celery("vancelian")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _use_project_logging(**kwargs) -> None:
    """Connecting this signal stops Celery from installing its own handlers, so the worker
    and beat log the project's JSON lines on stderr, like the command and the web process."""
    from django.conf import settings

    dictConfig(settings.LOGGING)
