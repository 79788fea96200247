from django.urls import path

from apps.console.consumers import DashboardConsumer

websocket_urlpatterns = [path("admin/ws/dashboard", DashboardConsumer.as_asgi())]
