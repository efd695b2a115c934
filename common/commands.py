"""A management command base that lists its exit codes at the end of `--help`.

Scripts and schedulers branch on exit codes, so an operator must be able to read
them where they look first: `python manage.py <command> --help`.
"""

import argparse
from collections.abc import Mapping

from django.core.management.base import BaseCommand, CommandParser, DjangoHelpFormatter

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
