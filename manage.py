#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

# Exit code of a command that cannot start: bad usage or configuration (like argparse's).
CONFIGURATION_ERROR = 2


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vancelian.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        # Load the settings now: a missing or invalid variable is one line for the
        # operator, not a traceback, and never exit 1 (which means "errors in the run").
        settings.INSTALLED_APPS  # noqa: B018 - the access is what loads them
    except ImproperlyConfigured as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(CONFIGURATION_ERROR)
    except ValueError as exc:  # django-environ's casts, e.g. a non-integer AVENIR_RELEASE_CHUNK_SIZE
        print(f"error: invalid setting in the environment: {exc}", file=sys.stderr)
        sys.exit(CONFIGURATION_ERROR)
    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:  # found at run time, e.g. a database server older than supported
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(CONFIGURATION_ERROR)


if __name__ == "__main__":
    main()
