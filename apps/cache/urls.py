from django.urls import path

from apps.cache.views import CacheClearView, CacheStatsView

# Included under admin/ before the Django admin, so these paths win over the console.
urlpatterns = [
    path("cache/stats", CacheStatsView.as_view()),
    path("cache/clear", CacheClearView.as_view()),
]
