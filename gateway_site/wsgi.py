"""WSGI entry point, for tools that want one. It serves Django's paths only (admin console,
admin API, health, stats, docs): the /v1/ API is async and lives in the ASGI application,
gateway_site.asgi:application, which is what `make run` serves."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")

application = get_wsgi_application()
