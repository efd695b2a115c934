"""python manage.py avenir_schedule_status [--json]

Is anything late? The AVENIR release schedule, the last finished run, and each alert on
its own line: no finished run covering yesterday's UTC date, overdue lots, runs
ABANDONED since the last finished run, runs stuck RUNNING, a missing or disabled
schedule. Lots failing in consecutive runs are a warning. For monitoring: exit 0 only
when there is no alert.
"""

import json

from django.core.management.base import CommandError

from common.commands import DocumentedCommand
from vaults.selectors.schedule_health import RunInfo, ScheduleHealth, schedule_health


def _when(value) -> str:
    return value.isoformat() if value else "-"


def _run(run: RunInfo | None) -> str:
    if run is None:
        return "none"
    return (
        f"{run.trace_id} as_of {run.as_of} {run.status} ({run.trigger}, finished {_when(run.finished_at)}, "
        f"{run.executed_count} lot(s) released, {run.errors_count} error(s))"
    )


def format_health(health: ScheduleHealth) -> str:
    overdue = health.overdue
    lines = [
        f"schedule:            {health.name} "
        + (
            f"({'enabled' if health.enabled else 'DISABLED'}, {health.schedule}, kwargs {json.dumps(health.kwargs)})"
            if health.exists
            else "(MISSING)"
        ),
        f"next run:            {_when(health.next_run_at)}",
        f"last dispatch:       {_when(health.last_dispatched_at)}",
        f"last finished run:   {_run(health.last_good)}",
        f"covers {health.required_day} (yesterday, UTC): {'yes' if health.covered else 'NO'}",
        f"overdue lots:        {overdue.count}"
        + (f" (oldest release_day {overdue.oldest_release_day})" if overdue.count else ""),
        f"abandoned runs:      {len(health.abandoned_runs)} since the last finished run",
        f"stuck runs:          {len(health.stuck_runs)}",
    ]
    lines += [f"ABANDONED: {run.trace_id} as_of {run.as_of}: {run.error}" for run in health.abandoned_runs]
    lines += [f"WARNING [{w.code}]: {w.message}" for w in health.warnings]
    lines += [f"  lot {f.lot_id}: {f.code} {f.message}" for f in health.repeated_failures]
    lines += [f"ALERT [{a.code}]: {a.message}" for a in health.alerts]
    lines.append("OK" if health.ok else "ALERT")
    return "\n".join(lines)


class Command(DocumentedCommand):
    help = "Is anything late? The AVENIR release's health; exit 1 when an alert is raised."
    exit_codes = {
        0: "healthy: no alert (warnings may be listed)",
        1: "an alert is raised: NOT_COVERED, OVERDUE_LOTS, ABANDONED_RUNS, STUCK_RUNS, "
        "SCHEDULE_MISSING, SCHEDULE_DISABLED or SCHEDULE_KWARGS_INVALID",
    }

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, **options):
        health = schedule_health()
        if options["json"]:
            self.stdout.write(json.dumps(health.to_json(), indent=2))
        else:
            self.stdout.write(format_health(health))
        if not health.ok:
            raise CommandError("; ".join(alert.code for alert in health.alerts), returncode=health.exit_code)
