"""python manage.py reverse_avenir_release (--run RUN_ID | --lot ID [ID ...] | --as-of DATE)
                                         --reason TEXT (--release-day DATE | --vesting-days N)
                                         [--dry-run] [--currency AED] [--chunk-size N] [--workers N]

Takes back mistaken releases, each by a compensating VAULT_VESTING_RELEASE_REVERSAL operation
(available back to locked, a new ACTIVE lock, the lot VESTED again with a new release day
after today). Once only per release; money already spent is never taken back (the lot is
refused alone). Stdout: only the JSON summary. Stderr: JSON log lines (and a progress bar on
a TTY). SIGTERM stops it like Ctrl-C: the run is recorded FAILED, what it committed stays.
"""

import getpass
import json
import sys

from django.conf import settings
from django.core.management.base import CommandError
from tqdm import tqdm

from common.commands import DocumentedCommand, interrupt_on_sigterm, parse_day, parse_whole
from vaults.exceptions import USAGE_ERRORS, LeaseLost
from vaults.models import ReleaseTrigger
from vaults.services.reversal import reverse_releases


class Command(DocumentedCommand):
    help = "Reverse mistaken AVENIR releases: one release run, selected lots, or every release of one as_of."
    exit_codes = {
        0: "clean: every release in scope was reversed, or had been already (skipped_count)",
        1: "errors_count > 0 (the refused lots are in summary.errors and stay released), or the run failed",
        2: "bad usage: no scope or more than one, a missing or empty --reason, neither or both of --release-day "
        "and --vesting-days, a release day not after today (by the database's clock), an unknown run, a run "
        "still RUNNING, a malformed date or id, an unknown currency, or a missing or invalid setting",
    }

    def add_arguments(self, parser):
        scope = parser.add_argument_group("scope (exactly one)")
        scope.add_argument("--run", metavar="RUN_ID", help="the release operations this release run wrote")
        scope.add_argument("--lot", nargs="+", metavar="ID", help="the current release of each of these lots")
        scope.add_argument("--as-of", help="every release operation of this business date YYYY-MM-DD")
        parser.add_argument("--reason", help="why (required): recorded on every reversal operation")
        parser.add_argument("--release-day", help="the lots' new release day YYYY-MM-DD, after today")
        parser.add_argument("--vesting-days", help="or: each lot's new release day is its deposit day plus these days")
        parser.add_argument("--currency", default="AED", help="vault currency (default: AED)")
        parser.add_argument("--dry-run", action="store_true", help="report what would happen; write nothing")
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=None,
            help=f"lots per transaction (default {settings.AVENIR_RELEASE_CHUNK_SIZE})",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help=f"connections writing chunks at once (default {settings.AVENIR_RELEASE_WORKERS})",
        )

    def handle(self, *args, **options):
        bar = tqdm(total=0, unit="lot", file=sys.stderr, disable=not sys.stderr.isatty(), desc="reversal")

        def progress(done: int, total: int) -> None:
            bar.total = max(total, done)
            bar.update(done - bar.n)

        try:
            with interrupt_on_sigterm():
                summary = reverse_releases(
                    currency=options["currency"].upper(),
                    run_id=parse_whole(options["run"], "--run") if options["run"] is not None else None,
                    lot_ids=[parse_whole(v, "--lot", "a lot id") for v in options["lot"]] if options["lot"] else None,
                    as_of=parse_day(options["as_of"], "--as-of") if options["as_of"] is not None else None,
                    reason=options["reason"] or "",
                    release_day=(
                        parse_day(options["release_day"], "--release-day")
                        if options["release_day"] is not None
                        else None
                    ),
                    vesting_days=(
                        parse_whole(options["vesting_days"], "--vesting-days", "a number of days")
                        if options["vesting_days"] is not None
                        else None
                    ),
                    dry_run=options["dry_run"],
                    trigger=ReleaseTrigger.CLI,
                    actor=f"cli:{getpass.getuser()}",
                    chunk_size=options["chunk_size"],
                    workers=options["workers"],
                    on_progress=progress,
                )
        except USAGE_ERRORS as exc:
            raise CommandError(str(exc), returncode=2) from exc
        except LeaseLost as exc:
            raise CommandError(f"{exc}; what this run committed stays reversed and counted", returncode=1) from exc
        except KeyboardInterrupt as exc:
            raise CommandError(
                f"interrupted ({exc or 'Ctrl-C'}): the run is recorded FAILED; what it committed stays reversed",
                returncode=1,
            ) from exc
        finally:
            bar.close()
        self.stdout.write(json.dumps(summary.to_json(), indent=2))
        if summary.exit_code:
            raise CommandError(f"{summary.errors_count} lot(s) refused; see summary.errors", returncode=1)
