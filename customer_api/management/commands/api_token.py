"""python manage.py api_token create USERNAME [--ttl-hours N]
   python manage.py api_token list USERNAME
   python manage.py api_token revoke USERNAME (--key TOKEN_KEY | --all)

`create` prints only the clear token on stdout (USER_TOKEN=$(... api_token create alice)); it is
shown once: knox stores only its hash. `list` shows each token's key (its first characters),
creation, expiry and state. Exit code 2 for bad usage (unknown user, unknown key, bad TTL).
"""

from datetime import timedelta

from django.core.management.base import CommandError

from common.commands import DocumentedCommand
from customer_api.exceptions import ApiTokenError
from customer_api.tokens import MAX_TTL_HOURS, MIN_TTL_HOURS, create_api_token, list_api_tokens, revoke_api_tokens

TTL_RANGE = f"{MIN_TTL_HOURS}..{MAX_TTL_HOURS}"  # 1 hour..one year


class Command(DocumentedCommand):
    help = "Create, list or revoke the API (Bearer) tokens of a user."
    exit_codes = {
        0: "done (create prints only the token on stdout)",
        2: f"bad usage: unknown or inactive user, unknown key, --ttl-hours outside {TTL_RANGE}, "
        "or a missing or invalid setting",
    }

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="issue a new token and print it")
        create.add_argument("username")
        create.add_argument(
            "--ttl-hours",
            type=int,
            default=None,
            metavar="N",
            help=f"lifetime in hours, {TTL_RANGE}, at most one year (default: API_TOKEN_TTL_HOURS, 24)",
        )
        listing = sub.add_parser("list", help="list the user's tokens (keys only, never the tokens)")
        listing.add_argument("username")
        revoke = sub.add_parser("revoke", help="revoke one token (--key) or all of them (--all)")
        revoke.add_argument("username")
        which = revoke.add_mutually_exclusive_group(required=True)
        which.add_argument("--key", help="the token key shown by `list` (the token's first characters)")
        which.add_argument("--all", action="store_true", help="revoke every token of the user")

    def handle(self, *args, **options):
        try:
            if options["action"] == "create":
                self._create(options["username"], options["ttl_hours"])
            elif options["action"] == "list":
                for info in list_api_tokens(username=options["username"]):
                    expiry = info.expiry.isoformat() if info.expiry else "never"
                    state = "expired" if info.expired else "active"
                    self.stdout.write(f"{info.token_key}\t{info.created.isoformat()}\t{expiry}\t{state}")
            else:
                token_key = None if options["all"] else options["key"]
                count = revoke_api_tokens(username=options["username"], token_key=token_key)
                self.stdout.write(f"revoked {count} token(s)")
        except ApiTokenError as exc:
            raise CommandError(str(exc), returncode=2) from exc

    def _create(self, username: str, ttl_hours: int | None) -> None:
        # Checked before timedelta(): a huge value would overflow it.
        if ttl_hours is not None and not MIN_TTL_HOURS <= ttl_hours <= MAX_TTL_HOURS:
            raise CommandError(f"--ttl-hours must be in {TTL_RANGE} (at most one year), not {ttl_hours}", returncode=2)
        ttl = timedelta(hours=ttl_hours) if ttl_hours is not None else None
        issued = create_api_token(username=username, ttl=ttl)
        self.stdout.write(issued.token)
        self.stderr.write(f"token {issued.token_key}... expires {issued.expiry.isoformat()}")
