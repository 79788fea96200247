from django.apps import AppConfig


class KeysConfig(AppConfig):
    name = "apps.keys"
    label = "keys"
    verbose_name = "API keys"

    def ready(self) -> None:
        from apps.keys import checks, openapi  # noqa: F401  (registers system checks and the schema extension)
