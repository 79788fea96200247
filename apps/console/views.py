"""The console's own pages (staff session, wrapped by GatewayAdminSite.admin_view)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from apps.cache.selectors import cache_stats
from apps.cache.services import cache_clear
from apps.console.config_view import config_in_effect
from apps.console.dashboard import DEFAULT_WINDOW, dashboard_figures
from gateway_site.gateway_config import ConfigError
from gateway_site.reload import config_reload


def dashboard_data(request: HttpRequest) -> JsonResponse:
    return JsonResponse(dashboard_figures(window=request.GET.get("window", DEFAULT_WINDOW)))



@require_http_methods(["GET", "POST"])
def cache_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        namespace = request.POST.get("namespace", "").strip() or None
        cleared = cache_clear(exact_cache=True, semantic_cache=True, namespace=namespace)
        where = f"namespace {namespace}" if namespace else "every namespace"
        messages.success(request, f"Cleared {where}: {cleared['exact_cache']} exact and "
                                  f"{cleared['semantic_cache']} semantic entries.")
        return redirect("admin:console-cache")
    context = {**admin.site.each_context(request), "title": "Cache", "stats": cache_stats()}
    return TemplateResponse(request, "console/cache.html", context)


@require_http_methods(["GET", "POST"])
def config_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":  # the same as POST /admin/api/reload-config
        try:
            config = config_reload()
            messages.success(request, f"Configuration reloaded in every process (digest {config.digest[:12]}).")
        except ConfigError as exc:
            messages.error(request, "Configuration not reloaded, the running one is unchanged: " + "; ".join(exc.errors))
        return redirect("admin:console-config")
    context = {**admin.site.each_context(request), "title": "Configuration in effect", **config_in_effect()}
    return TemplateResponse(request, "console/config.html", context)
