"""A management command base that lists its exit codes at the end of `--help`, and the
parsers of what operators type (dates, ids) that exit 2 with one line.

Scripts and schedulers branch on exit codes, so an operator must be able to read
them where they look first: `python manage.py <command> --help`.
"""

import argparse
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser, DjangoHelpFormatter

from common.parsing import parse_id

# Shared by every command: argparse refuses bad arguments with 2, and manage.py exits 2
# when a setting is missing or invalid.
USAGE_EXIT = "bad usage: invalid arguments, or a missing or invalid setting"


class _HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's order of options, with the exit-code table kept as written."""


class DocumentedCommand(BaseCommand):
    """Subclasses set `exit_codes`: {code: meaning}. Code 2 defaults to USAGE_EXIT."""

    exit_codes: Mapping[int, str] = {0: "success"}

    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> CommandParser:
        codes = {2: USAGE_EXIT, **self.exit_codes}
        width = max(len(str(code)) for code in codes)
        table = "\n".join(f"  {code:<{width}}  {meaning}" for code, meaning in sorted(codes.items()))
        kwargs.setdefault("epilog", f"exit codes:\n{table}")
        kwargs.setdefault("formatter_class", _HelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)


@contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """SIGTERM (a deploy, `kill`, a container stop) raises KeyboardInterrupt, like Ctrl-C,
    so the command stops cleanly: psycopg cancels the running statement on the server and
    the work in progress is recorded. Without it the process dies at once and PostgreSQL
    keeps running the statement, holding its row locks."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def parse_day(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"invalid {flag} {value!r}: expected a date as YYYY-MM-DD", returncode=2) from None


def parse_whole(value: str, flag: str, what: str = "a run id") -> int:
    """A positive whole number an operator typed, else exit 2 with one line."""
    parsed = parse_id(value)
    if parsed is None:
        raise CommandError(f"invalid {flag} {value!r}: expected {what} (a positive whole number)", returncode=2)
    return parsed
