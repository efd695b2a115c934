"""Django's PostgreSQL backend, with the project's oldest supported server version.

Django checks the version once per process, when the first connection opens
(check_database_version_supported); the project's version is higher than Django's own
minimum, and its refusal is an ImproperlyConfigured with one line for the operator
(manage.py prints it and exits 2, like any other configuration error)."""

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql import base, features

# The oldest PostgreSQL the project runs on; 15 and 18 (the newest) are tested.
OLDEST_SUPPORTED = (15,)


class UnsupportedServerVersion(ImproperlyConfigured):
    """The database server is older than OLDEST_SUPPORTED."""


class DatabaseFeatures(features.DatabaseFeatures):
    minimum_database_version = OLDEST_SUPPORTED


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures

    def check_database_version_supported(self) -> None:
        found = self.get_database_version()
        oldest = self.features.minimum_database_version
        if found >= oldest:
            return
        # Closed, so that nothing uses it and the next attempt checks again.
        self.close()
        server = f"database {self.settings_dict['NAME']!r} at {self.settings_dict['HOST'] or 'localhost'!r}"
        raise UnsupportedServerVersion(
            f"PostgreSQL {'.'.join(map(str, found))} ({server}) is not supported: "
            f"this application needs PostgreSQL {'.'.join(map(str, oldest))} or later"
        )
