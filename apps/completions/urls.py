"""The /v1/ routes, handed to the front door by gateway_site/asgi.py."""

from apps.completions import views
from apps.completions.ingress.anthropic_messages import render_error as anthropic_error
from gateway_site.front_door import ApiRoute

api_routes = [
    ApiRoute("/v1/chat/completions", views.chat_completions),
    ApiRoute("/v1/messages", views.messages, render_error=anthropic_error),
    ApiRoute("/v1/messages/count_tokens", views.count_tokens, render_error=anthropic_error),
    ApiRoute("/v1/responses", views.responses),
    ApiRoute("/v1/models", views.models_list),
    ApiRoute("/v1/models/<path:model_id>", views.model_detail),
]
