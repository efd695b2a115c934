from django.apps import AppConfig


class AccessConfig(AppConfig):
    """Who may reach the money: the client's address behind trusted proxies, the admin login
    lockout (django-axes) and the checks that keep their counts shared between workers."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "common.access"
    label = "access"
    verbose_name = "Access"

    def ready(self) -> None:
        from common.access import checks, login_log  # noqa: F401 - registers the system checks and the login log
