"""python manage.py release_avenir_vesting [--as-of YYYY-MM-DD] [--currency AED] [--dry-run]
                                          [--chunk-size N] [--workers N]
       python manage.py release_avenir_vesting --take-over RUN_ID [--chunk-size N] [--workers N]

Stdout: only the runbook's JSON. Stderr: JSON log lines (and a progress bar on a TTY).
Exit codes: 0 clean, 1 when errors_count > 0 (or the run failed or was interrupted),
2 for bad usage. --take-over marks a RUNNING run whose process is known to be dead
ABANDONED at once (with who did it) and releases the rest of its day. SIGTERM interrupts
the run like Ctrl-C: the running statements are cancelled on the server, the run is
recorded FAILED, what was committed stays released.
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
from vaults.services.release import release_matured_lots, take_over_run


class Command(DocumentedCommand):
    help = "Release the AVENIR vesting lots that matured on or before --as-of (default: today, UTC)."
    exit_codes = {
        0: "clean run: no error (a replay or a dry run included)",
        1: "errors_count > 0 (the failing lots are in summary.errors; the others were released), or the run failed "
        "or was taken over by another run",
        2: "bad usage: malformed or empty date, unknown currency, --as-of in the future (by the database's "
        "clock), --chunk-size or --workers out of bounds, --take-over of an unknown run or of one that is not "
        "RUNNING (nothing is changed), or a missing or invalid setting",
    }

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="business date YYYY-MM-DD (default: today's UTC date)")
        parser.add_argument("--currency", default=None, help="vault currency (default: AED)")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="report what would happen; write nothing",
        )
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=None,
            help=f"lots per transaction (default {settings.AVENIR_RELEASE_CHUNK_SIZE}, "
            f"at most {settings.AVENIR_RELEASE_MAX_CHUNK_SIZE}: AVENIR_RELEASE_MAX_CHUNK_SIZE)",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help=f"connections writing chunks at once (default {settings.AVENIR_RELEASE_WORKERS}, "
            f"at most {settings.AVENIR_RELEASE_MAX_WORKERS}: AVENIR_RELEASE_MAX_WORKERS)",
        )
        parser.add_argument(
            "--take-over",
            metavar="RUN_ID",
            help="mark this RUNNING run ABANDONED now (its process is dead) and release the rest of its day "
            "(its as_of and currency); without --as-of, --currency and --dry-run",
        )

    def handle(self, *args, **options):
        as_of = parse_day(options["as_of"], "--as-of") if options["as_of"] is not None else None
        take_over = parse_whole(options["take_over"], "--take-over") if options["take_over"] is not None else None
        if take_over is not None and (as_of or options["currency"] or options["dry_run"]):
            raise CommandError("--take-over uses the run's own as_of and currency, and writes", returncode=2)
        bar = tqdm(
            total=0,
            unit="lot",
            file=sys.stderr,
            disable=not sys.stderr.isatty(),
            desc="release",
        )

        def progress(done: int, total: int) -> None:
            bar.total = max(total, done)
            bar.update(done - bar.n)

        try:
            common = {
                "trigger": ReleaseTrigger.CLI,
                "actor": f"cli:{getpass.getuser()}",
                "chunk_size": options["chunk_size"],
                "workers": options["workers"],
                "on_progress": progress,
            }
            with interrupt_on_sigterm():
                if take_over is not None:
                    summary = take_over_run(run_id=take_over, **common)
                else:
                    summary = release_matured_lots(
                        currency=(options["currency"] or "AED").upper(),
                        as_of=as_of,
                        dry_run=options["dry_run"],
                        **common,
                    )
        except USAGE_ERRORS as exc:
            raise CommandError(str(exc), returncode=2) from exc
        except LeaseLost as exc:
            raise CommandError(
                f"{exc}; what this run committed stays released and counted on its row", returncode=1
            ) from exc
        except KeyboardInterrupt as exc:
            raise CommandError(
                f"interrupted ({exc or 'Ctrl-C'}): the run is recorded FAILED; what it committed stays released",
                returncode=1,
            ) from exc
        finally:
            bar.close()
        self.stdout.write(json.dumps(summary.to_runbook_json(), indent=2))
        if summary.exit_code:
            raise CommandError(
                f"{summary.errors_count} lot(s) failed; see summary.errors",
                returncode=summary.exit_code,
            )
