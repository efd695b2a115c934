from django.urls import path

from customer_api.views import TransactionListView

app_name = "api_v1"

urlpatterns = [
    # No trailing slash: the runbook calls /api/v1/transactions?limit=50.
    path("transactions", TransactionListView.as_view(), name="transactions"),
]
