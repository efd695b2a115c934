"""/metrics and the health probes, mounted at the root by vancelian/urls.py."""

from django.urls import path

from vaults.monitoring.health import LivenessView, ReadinessView
from vaults.monitoring.views import metrics

urlpatterns = [
    path("metrics", metrics, name="metrics"),
    path("health/live/", LivenessView.as_view(), name="health-live"),
    path("health/ready/", ReadinessView.as_view(), name="health-ready"),
]
