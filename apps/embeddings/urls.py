"""The embeddings route, handed to the front door by gateway_site/asgi.py."""

from apps.embeddings import views
from gateway_site.front_door import ApiRoute

api_routes = [
    ApiRoute("/v1/embeddings", views.embeddings),
]
