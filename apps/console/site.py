"""The gateway's admin site: the console. Its front page is the live dashboard; it adds the
cache and configuration pages and the dashboard's JSON (the polling fallback)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from apps.console import views


class GatewayAdminSite(admin.AdminSite):
    site_header = "Prometheus Gateway"
    site_title = "Prometheus Gateway console"
    index_title = "Dashboard"
    site_url = None  # no "View site": the gateway has no site besides this console
    index_template = "console/dashboard.html"

    def get_urls(self):
        # Before the admin's own: /admin/cache/ is the cache page (the cache app's index
        # would be there otherwise); its models keep /admin/cache/<model>/.
        own = [
            path("dashboard/data", self.admin_view(views.dashboard_data), name="console-dashboard-data"),
            path("cache/", self.admin_view(views.cache_page), name="console-cache"),
            path("config/", self.admin_view(views.config_page), name="console-config"),
        ]
        return own + super().get_urls()

    def each_context(self, request):
        context = super().each_context(request)
        context["console_links"] = [("Dashboard", "admin:index"), ("Cache", "admin:console-cache"),
                                    ("Configuration", "admin:console-config")]
        return context
