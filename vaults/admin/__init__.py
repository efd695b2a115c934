"""Operator surfaces for AVENIR in the Django admin.

- lots: the vesting lots list, with the unlock forecast page;
- release_action: the bulk release of selected lots (confirmation, then the release service);
- lock_audit: the lock audit page and its one repair;
- reversal_action: reversing releases (of selected lots, or of a run): why, the new release
  day, the service's own dry run, then the reversal service;
- runs, reversal_runs: the release and reversal run histories (each run's summary), and the
  lock repair history;
- verifications: the ledger verification history (what /metrics exports the newest of).

The admin only parses, confirms, calls a service and reports: money moves through
vaults.services.release.release_matured_lots and vaults.services.reversal.reverse_releases, locks are repaired through
vaults.services.repair, findings come from vaults.selectors.lock_audit. Templates: vaults/templates/admin/vaults/.
"""

from vaults.admin.lots import VestingLotAdmin
from vaults.admin.reversal_runs import ReversalRunAdmin
from vaults.admin.runs import LockRepairAdmin, ReleaseRunAdmin
from vaults.admin.verifications import LedgerVerificationRecordAdmin

__all__ = [
    "LedgerVerificationRecordAdmin",
    "LockRepairAdmin",
    "ReleaseRunAdmin",
    "ReversalRunAdmin",
    "VestingLotAdmin",
]
