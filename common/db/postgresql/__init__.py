"""The project's PostgreSQL backend for Django (ENGINE "common.db.postgresql"): Django's own,
refusing a server older than the oldest version the project supports. settings.py puts it
behind DATABASE_URL, and the embedded server's backend extends it, so every way in (direct,
embedded, through PgBouncer, which reports the server's version) is checked."""
