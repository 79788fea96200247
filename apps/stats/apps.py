from django.apps import AppConfig


class StatsConfig(AppConfig):
    name = "apps.stats"
    label = "stats"
    verbose_name = "Usage and stats"

    def ready(self) -> None:
        from apps.stats import metrics, rollups, usage
        from gateway_site import reload  # noqa: F401  (every process hears config reloads)
        from gateway_site.breaker import Breakers

        if rollups.rollups_add not in usage.batch_hooks:
            usage.batch_hooks.append(rollups.rollups_add)
        Breakers.on_every_state_change(metrics.circuit_state_changed)
        metrics.initialise_labels()
