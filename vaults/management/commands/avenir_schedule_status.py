"""python manage.py avenir_schedule_status [--json]

Shows the AVENIR release schedule: next scheduled run, last successful run, alerts.
Exit code 1 when there is an alert (no successful real run covers yesterday's UTC
date, schedule missing or disabled, a run stuck RUNNING): for monitoring.
"""

import json

from django.core.management.base import CommandError

from common.commands import DocumentedCommand
from vaults.services.schedule import ScheduleHealth, schedule_health


def _when(value) -> str:
    return value.isoformat() if value else "-"


def format_health(health: ScheduleHealth) -> str:
    success = health.last_success
    lines = [
        f"schedule:            {health.name} "
        + (
            f"({'enabled' if health.enabled else 'DISABLED'}, {health.schedule}, kwargs {json.dumps(health.kwargs)})"
            if health.exists
            else "(MISSING)"
        ),
        f"next run:            {_when(health.next_run_at)}",
        f"last dispatch:       {_when(health.last_dispatched_at)}",
        "last successful run: "
        + (
            f"{success.trace_id} as_of {success.as_of} ({success.trigger}, "
            f"finished {_when(success.finished_at)}, {success.executed_count} lot(s))"
            if success
            else "none"
        ),
        f"covers {health.required_day} (yesterday, UTC): {'yes' if health.covered else 'NO'}",
    ]
    lines += [f"ALERT: {alert}" for alert in health.alerts]
    lines.append("OK" if health.ok else "ALERT")
    return "\n".join(lines)


class Command(DocumentedCommand):
    help = "Show the AVENIR release schedule's health; exit 1 when an alert is raised."
    exit_codes = {0: "healthy: no alert", 1: "an alert is raised (missing or disabled schedule, stale or failed runs)"}

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, **options):
        health = schedule_health()
        if options["json"]:
            self.stdout.write(json.dumps(health.to_json(), indent=2))
        else:
            self.stdout.write(format_health(health))
        if not health.ok:
            raise CommandError("; ".join(health.alerts), returncode=health.exit_code)
