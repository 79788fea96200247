from django.urls import path

from apps.stats.views import MetricsView, ReloadConfigView, StatsView

urlpatterns = [
    path("stats", StatsView.as_view()),
    path("metrics", MetricsView.as_view()),
    # Included at the root before admin.site.urls, so this API path wins over the console.
    path("admin/reload-config", ReloadConfigView.as_view()),
]
