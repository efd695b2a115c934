"""python manage.py setup_avenir_schedule

Creates the daily AVENIR release PeriodicTask and its catch-up (django-celery-beat) when
they are missing. Idempotent, run by every deploy after `migrate`; never changes an existing row, so
operators' edits in the admin (time, enabled, kwargs) survive deploys.
"""

from common.commands import DocumentedCommand
from vaults.services.schedule import ensure_avenir_schedule


class Command(DocumentedCommand):
    help = "Create the AVENIR vesting release schedule and its catch-up (django-celery-beat) if they do not exist."
    exit_codes = {0: "both periodic tasks exist (created now, or already present and left unchanged)"}

    def handle(self, *args, **options):
        daily = ensure_avenir_schedule()
        for setup in (daily, daily.catch_up):
            state = "created" if setup.created else "already present, left unchanged"
            self.stdout.write(f"periodic task {setup.name!r} (id {setup.periodic_task_id}): {state}")
