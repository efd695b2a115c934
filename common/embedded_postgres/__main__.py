"""Embedded PostgreSQL servers for shell scripts.

  python -m common.embedded_postgres url  [--data DIR] [--database NAME] [--recreate] [--set NAME=VALUE ...]
  python -m common.embedded_postgres stop [--data DIR] [--mode fast|immediate]

`url` starts the server on DIR unless it runs (default: EMBEDDED_PGDATA, else the checkout's
.pgdata/), applies the server settings, creates the database (dropped first with --recreate)
and prints its DATABASE_URL. `stop` stops the server; the data stays (--mode immediate
skips the final checkpoint: for a throwaway server whose folder is deleted next).
"""

import argparse
from pathlib import Path

from common.database_url import database_url
from common.embedded_postgres import (
    DATABASE,
    SUPERUSER,
    configure,
    create_database_if_missing,
    default_data_dir,
    drop_database,
    stop_server,
)


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m common.embedded_postgres", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["url", "stop"])
    parser.add_argument("--data", type=Path, default=None, help="data folder (default: EMBEDDED_PGDATA or .pgdata/)")
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--recreate", action="store_true", help="drop the database first")
    parser.add_argument("--set", type=_setting, action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--mode", choices=["fast", "immediate"], default="fast", help="how `stop` stops")
    args = parser.parse_args(argv)
    pgdata = (args.data or default_data_dir()).resolve()
    if args.action == "stop":
        stop_server(pgdata, mode=args.mode)
        return
    socket_dir = configure(pgdata, dict(args.set))
    if args.recreate:
        drop_database(socket_dir, args.database)
    create_database_if_missing(socket_dir, args.database)
    print(database_url({"USER": SUPERUSER, "HOST": str(socket_dir), "NAME": args.database}))


if __name__ == "__main__":
    main()
