"""python manage.py audit_avenir_locks [--currency AED] [--json]

The lock audit for monitoring: the same findings as the admin page (vaults.selectors.lock_audit).
Stdout: the report (text, or one JSON document with --json). Exit codes: 0 consistent,
1 inconsistent, 2 bad usage.
"""

import json

from django.core.management.base import CommandError

from common.commands import DocumentedCommand
from ledger.exceptions import LedgerError
from vaults.selectors.lock_audit import DEFAULT_MAX_ITEMS, audit_avenir_locks


class Command(DocumentedCommand):
    help = "Audit AVENIR wallet locks against the ledger and the vesting lots; exit 1 when inconsistent."
    exit_codes = {0: "consistent: no finding", 1: "inconsistencies found (listed on stdout)"}

    def add_arguments(self, parser):
        parser.add_argument("--currency", default=None, help="only this currency (default: all)")
        parser.add_argument("--json", action="store_true", help="one JSON document on stdout, for monitoring")
        parser.add_argument(
            "--max-items",
            type=int,
            default=DEFAULT_MAX_ITEMS,
            help=f"findings listed per kind; counts are always exact (default: {DEFAULT_MAX_ITEMS})",
        )

    def handle(self, *args, **options):
        currency = options["currency"].upper() if options["currency"] else None
        if options["max_items"] < 0:
            raise CommandError("--max-items must be >= 0", returncode=2)
        try:
            report = audit_avenir_locks(currency=currency, max_items=options["max_items"])
        except LedgerError as exc:  # an unknown currency
            raise CommandError(str(exc), returncode=2) from exc
        if options["json"]:
            self.stdout.write(json.dumps(report.to_json(), indent=2))
        else:
            scope = currency or "all currencies"
            if report.consistent:
                self.stdout.write(f"AVENIR lock audit ({scope}): consistent")
            else:
                self.stdout.write(f"AVENIR lock audit ({scope}): {report.total} inconsistencies")
            for group in report.groups:
                self.stdout.write(f"  {group.kind}: {group.count}  ({group.title})")
                for finding in group.findings:
                    self.stdout.write(f"    - {finding.detail}")
                if group.truncated:
                    self.stdout.write(f"    ... {group.count - len(group.findings)} more")
        if not report.consistent:
            raise CommandError(f"{report.total} inconsistencies found", returncode=1)
