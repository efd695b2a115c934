"""python manage.py seed_avenir --users N --lots-per-user M --deposit-day YYYY-MM-DD
                                [--spread-days K] [--amount 10000.00] [--currency AED] [--method auto|services|bulk]

Funds N users and makes M AVENIR deposits each; prints a JSON summary on stdout.
Small runs go through the real services; large ones (PostgreSQL) take the bulk path.
"""

import json
import time

from django.core.management.base import CommandError

from common.commands import DocumentedCommand, parse_day
from ledger.currencies import format_amount
from vaults.exceptions import USAGE_ERRORS
from vaults.services.seed import seed_avenir


class Command(DocumentedCommand):
    help = "Seed AVENIR demo or benchmark data: funded users with vault deposits."
    exit_codes = {0: "seeded", 2: "bad usage: invalid date, count or amount, or a missing or invalid setting"}

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, required=True)
        parser.add_argument("--lots-per-user", type=int, required=True)
        parser.add_argument("--deposit-day", required=True, help="YYYY-MM-DD, the first deposit day")
        parser.add_argument(
            "--spread-days",
            type=int,
            default=1,
            help="spread the lots over K deposit days",
        )
        parser.add_argument("--amount", default="10000.00", help="amount of each lot (default 10000.00)")
        parser.add_argument("--currency", default="AED")
        parser.add_argument("--prefix", default="avenir-seed", help="username prefix")
        parser.add_argument("--method", choices=["auto", "services", "bulk"], default="auto")

    def handle(self, *args, **options):
        started = time.monotonic()
        try:
            result = seed_avenir(
                users=options["users"],
                lots_per_user=options["lots_per_user"],
                deposit_day=parse_day(options["deposit_day"], "--deposit-day"),
                spread_days=options["spread_days"],
                amount=options["amount"],
                currency=options["currency"].upper(),
                prefix=options["prefix"],
                method=options["method"],
            )
        except USAGE_ERRORS as exc:
            raise CommandError(str(exc), returncode=2) from exc
        self.stdout.write(
            json.dumps(
                {
                    "method": result.method,
                    "users": result.users,
                    "lots": result.lots,
                    "amount_locked": format_amount(result.amount_locked, result.currency),
                    "currency": result.currency,
                    "first_release_day": result.first_release_day.isoformat(),
                    "last_release_day": result.last_release_day.isoformat(),
                    "seconds": round(time.monotonic() - started, 2),
                }
            )
        )
