from django.contrib import admin
from django.http import Http404
from django.contrib.staticfiles.views import serve as serve_static
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from gateway_site.openapi import OfflineRedocView
from apps.stats.views import HealthView, LivenessView, ReadinessView, ReloadConfigView


def admin_api_not_found(request, rest: str = ""):
    raise Http404  # an unknown admin API path: the contract's JSON 404, not a console page

# The docs are public, like the probes (api-contract.md).
_public = {"authentication_classes": [], "permission_classes": []}

urlpatterns = [
    path("", include("apps.stats.urls")),
    # The admin API (middleware.is_admin_api_path): its own prefix, and its first paths
    # (/admin/cache/stats, /admin/cache/clear, /admin/reload-config) kept working.
    path("admin/api/", include("apps.cache.urls")),
    path("admin/api/reload-config", ReloadConfigView.as_view()),
    re_path(r"^admin/api/(?P<rest>.*)$", admin_api_not_found),
    path("admin/", include("apps.cache.urls")),
    path("admin/", admin.site.urls),
    path("health", HealthView.as_view()),
    path("health/ready", ReadinessView.as_view()),
    path("health/live", LivenessView.as_view()),
    path("openapi.json", SpectacularJSONAPIView.as_view(**_public), name="openapi-schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi-schema", **_public)),
    path("redoc", OfflineRedocView.as_view(url_name="openapi-schema", **_public)),
    # Admin and Swagger assets come from installed packages; serve them without a CDN or
    # a separate static server. Nothing sensitive lives in these files.
    re_path(r"^static/(?P<path>.*)$", serve_static, {"insecure": True}),
]

handler400 = "gateway_site.error_views.bad_request"
handler403 = "gateway_site.error_views.permission_denied"
handler404 = "gateway_site.error_views.not_found"
handler500 = "gateway_site.error_views.server_error"
