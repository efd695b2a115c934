"""Migration operations shared by the apps' migrations."""

from django.db import migrations


class PostgresRunSQL(migrations.RunSQL):
    """RunSQL that only runs on PostgreSQL (the SQLite demo database has no plpgsql)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
