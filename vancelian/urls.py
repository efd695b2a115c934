from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

# The operators' console: named for them, with no "View site" link (there is no public site).
admin.site.site_header = "Vancelian operations"
admin.site.site_title = "Vancelian operations"
admin.site.index_title = "Operations"
admin.site.site_url = None
admin.site.index_template = "admin/operations_index.html"  # adds the lock audit and forecast links
# No app list beside every page: at 1366 px the lists need the width (the index and breadcrumbs navigate).
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("customer_api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("vaults.monitoring.urls")),  # /metrics, /health/live/, /health/ready/
]
