"""python manage.py verify_ledger [--currency AED] [--json] [--no-record]

Every ledger invariant, for monitoring: balanced operations, account balances equal to their
entries, no negative user wallet, WALLET_LOCKED balances equal to the ACTIVE wallet locks,
and the ACTIVE AVENIR locks equal to the unreleased lots (vaults.verification).
Stdout: the report (text, or one JSON document with --json). Exit codes: 0 clean, 1 a
violation, 2 bad usage. It reads in one READ ONLY snapshot and moves no money; then it records
its result (vault_ledger_verifications, exported by /metrics) unless --no-record, e.g. on a
read-only replica.
"""

import getpass
import json

from django.core.management.base import CommandError

from common.commands import DocumentedCommand
from ledger.exceptions import LedgerError
from ledger.verification import DEFAULT_MAX_EXAMPLES
from vaults.models import VerificationTrigger
from vaults.services.verification_records import verify_and_record
from vaults.verification import verify_ledger


class Command(DocumentedCommand):
    help = "Check every ledger invariant (set-based, read only); exit 1 when one is violated."
    exit_codes = {
        0: "clean: every invariant holds",
        1: "at least one invariant is violated (listed on stdout)",
        2: "bad usage: an unknown currency, invalid arguments, or a missing or invalid setting",
    }

    def add_arguments(self, parser):
        parser.add_argument("--currency", default=None, help="only this currency (default: all)")
        parser.add_argument("--json", action="store_true", help="one JSON document on stdout, for monitoring")
        parser.add_argument(
            "--max-examples",
            type=int,
            default=DEFAULT_MAX_EXAMPLES,
            help=f"violations listed per check; counts are always exact (default: {DEFAULT_MAX_EXAMPLES})",
        )
        parser.add_argument(
            "--no-record",
            action="store_true",
            help="write nothing: do not record the result for monitoring (e.g. on a read-only replica)",
        )

    def handle(self, *args, **options):
        currency = options["currency"].upper() if options["currency"] else None
        if options["max_examples"] < 0:
            raise CommandError("--max-examples must be >= 0", returncode=2)
        try:
            if options["no_record"]:
                result = verify_ledger(currency=currency, max_examples=options["max_examples"])
            else:
                result = verify_and_record(
                    currency=currency,
                    max_examples=options["max_examples"],
                    trigger=VerificationTrigger.CLI,
                    actor=f"cli:{getpass.getuser()}",
                )
        except LedgerError as exc:  # an unknown currency
            raise CommandError(str(exc), returncode=2) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result.to_json(), indent=2))
        else:
            scope = currency or "all currencies"
            verdict = "clean" if result.ok else f"{result.violations} violation(s)"
            self.stdout.write(f"verify_ledger ({scope}): {verdict} in {result.seconds:.2f} s")
            width = max(len(check.name) for check in result.checks)
            for check in result.checks:
                mark = "ok  " if check.ok else "FAIL"
                self.stdout.write(f"  {mark} {check.name:<{width}} {check.violations:>8}  {check.title}")
                for example in check.examples:
                    self.stdout.write(f"         - {example.detail}")
                if check.violations > len(check.examples):
                    self.stdout.write(f"         ... {check.violations - len(check.examples)} more")
        if not result.ok:
            raise CommandError(f"{result.violations} ledger invariant violation(s)", returncode=1)
