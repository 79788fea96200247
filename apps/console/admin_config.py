from django.contrib.admin.apps import AdminConfig


class ConsoleAdminConfig(AdminConfig):
    """django.contrib.admin, with the gateway's site as `admin.site`: every app's
    admin.py registers on it as usual."""

    default_site = "apps.console.site.GatewayAdminSite"
