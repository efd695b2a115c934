"""The rows of reversal runs: started with a lease (a heartbeat the run's chunks and its
lease keeper renew, as a release run's), finished with their summary. The shared machinery
(renew_lease, the lease keeper, fail_run) is the release's, on this table."""

from django.conf import settings
from django.db import connection, transaction
from django.db.models.functions import Now

from vaults.exceptions import LeaseLost
from vaults.models import ReleaseTrigger, ReversalRun, RunStatus
from vaults.services.release.runs import retrying, this_process
from vaults.services.reversal.context import ReversalContext
from vaults.services.reversal.results import ReversalSummary
from vaults.services.reversal.statements import load_sql

REVERSALS = ReversalRun._meta.db_table


def start_reversal_run(ctx: ReversalContext, *, trigger: str, task_id: str) -> int:
    """The run's RUNNING row (and dead reversal runs marked ABANDONED): its id."""
    lease_seconds = settings.AVENIR_RELEASE_LEASE_SECONDS
    scope = ctx.scope
    params = {
        "trace_id": ctx.trace_id,
        "vault_id": ctx.vault.pk,
        "currency": ctx.vault.currency,
        "scope": scope.kind,
        "release_run_id": scope.release_run.pk if scope.release_run else None,
        "scope_day": scope.as_of,
        "selected_lots_count": len(scope.lot_ids) if scope.lot_ids is not None else None,
        "reason": ctx.reason,
        "release_day": ctx.release_day,
        "vesting_days": ctx.vesting_days,
        "trigger": trigger if trigger in ReleaseTrigger.values else ReleaseTrigger.CLI,
        "actor": ctx.actor[:150],
        "task_id": task_id[:64],
        "holder": this_process(),
        "lease_seconds": lease_seconds,
        "lease_label": f"{lease_seconds:g}",
    }

    def statement() -> int:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {REVERSALS} WHERE trace_id = %s", [ctx.trace_id])
            if mine := cursor.fetchone():  # a retry: the first attempt committed
                return mine[0]
            cursor.execute(load_sql("start_run"), params)
            return cursor.fetchone()[0]

    return retrying(statement)


def record_skipped(run_id: int, skipped: int) -> None:
    """The releases of the scope reversed before the run started: known once, at its start."""
    retrying(lambda: ReversalRun.objects.filter(pk=run_id).update(skipped_count=skipped))


def finish_reversal_run(run_id: int, summary: ReversalSummary) -> None:
    """The counts are already on the row: each chunk added its own when it committed."""
    status = RunStatus.COMPLETED_WITH_ERRORS if summary.errors_count else RunStatus.SUCCEEDED

    def statement() -> None:
        updated = ReversalRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
            finished_at=Now(), heartbeat_at=Now(), status=status, exit_code=summary.exit_code, summary=summary.to_json()
        )
        if updated or ReversalRun.objects.filter(pk=run_id, status=status, summary__trace_id=summary.trace_id).exists():
            return
        raise LeaseLost(f"reversal run {run_id} was marked ABANDONED before it finished")

    retrying(statement)
