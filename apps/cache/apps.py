from django.apps import AppConfig


class CacheConfig(AppConfig):
    name = "apps.cache"
    label = "gateway_cache"
    verbose_name = "Caches"
