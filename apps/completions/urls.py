"""The /v1/ routes, handed to the front door by gateway_site/asgi.py."""

from apps.completions import views
from gateway_site.front_door import ApiRoute

api_routes = [
    ApiRoute("/v1/chat/completions", views.chat_completions),
    ApiRoute("/v1/responses", views.responses),
    ApiRoute("/v1/models", views.models_list),
    ApiRoute("/v1/models/<path:model_id>", views.model_detail),
]
