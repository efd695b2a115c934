"""The project's PostgreSQL backend (common.db.postgresql) on the embedded server
(settings.DATABASES without DATABASE_URL).

The server is started, if needed, when a connection opens, and the database is created
when missing, so a fresh checkout needs no setup step."""

from pathlib import Path
from typing import Any

import psycopg

from common.db.postgresql import base
from common.embedded_postgres import create_database_if_missing, ensure_server


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        self.settings_dict["HOST"] = str(ensure_server(Path(self.settings_dict["EMBEDDED_PGDATA"])))
        return super().get_connection_params()

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        try:
            return super().get_new_connection(conn_params)
        except psycopg.OperationalError:
            # Only a missing database is created; any other failure is raised as it is.
            name = self.settings_dict["NAME"]
            if not name or not create_database_if_missing(Path(self.settings_dict["HOST"]), name):
                raise
        return super().get_new_connection(conn_params)
