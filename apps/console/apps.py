from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The admin console: its site, dashboard, cache and configuration pages."""

    name = "apps.console"
