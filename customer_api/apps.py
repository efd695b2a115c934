from django.apps import AppConfig


class CustomerApiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "customer_api"
    verbose_name = "Customer API"
