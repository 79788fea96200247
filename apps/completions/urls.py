"""The /v1/ routes. gateway_site.api_asgi serves them, outside Django's URL resolver."""

from apps.completions import views
from gateway_site.api_asgi import ApiRoute

api_routes = [
    ApiRoute("/v1/chat/completions", views.chat_completions),
    ApiRoute("/v1/models", views.models_list),
    ApiRoute("/v1/models/<path:model_id>", views.model_detail),
]
