from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.keys.authentication import IsAdminKey
from apps.stats import health, metrics
from apps.stats.access import MetricsAccess, MetricsAuthentication
from apps.stats.selectors import configured_providers, stats_summary
from gateway_site.errors import InvalidRequest, render_error_body, utc_timestamp
from gateway_site.gateway_config import ConfigError
from gateway_site.middleware import request_id_of
from gateway_site.openapi import contract_errors
from gateway_site.reload import config_reload

# `auth=[]` would leave the operation without `security`, and so under the document's
# (a key); `[{}]` is OpenAPI's "no credentials needed".
PUBLIC: list[dict] = [{}]
_ProbeSerializer = inline_serializer("Probe", {"status": serializers.CharField(), "timestamp": serializers.CharField()})


class HealthView(APIView):
    """Dependencies and providers; 503 when requests cannot be served."""

    @extend_schema(
        summary="Health of the gateway, its database, Redis and providers",
        extensions=contract_errors("invalid_api_key", "internal_error", "service_unavailable"),
        responses={200: inline_serializer("Health", {
            "status": serializers.ChoiceField(["healthy", "degraded", "unhealthy"]),
            "timestamp": serializers.CharField(),
            "services": serializers.DictField(),
            "version": serializers.CharField(),
        })},
    )
    def get(self, request):
        status, body = health.overall_health()
        return Response(body, status=503 if status == "unhealthy" else 200)


class ReadinessView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(summary="Readiness probe (public): 503 until the database and configuration are usable",
                   responses={200: _ProbeSerializer, 503: _ProbeSerializer}, auth=PUBLIC)
    def get(self, request):
        ready = health.check_database() == "connected" and health.check_config()
        status = ("ready" if health.check_embedder_warm() else "warming") if ready else "not_ready"
        return Response({"status": status, "timestamp": utc_timestamp()}, status=200 if status == "ready" else 503)


class LivenessView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(summary="Liveness probe (public): the process answers", responses={200: _ProbeSerializer}, auth=PUBLIC)
    def get(self, request):
        return Response({"status": "alive", "timestamp": utc_timestamp()})


class StatsQuery(serializers.Serializer):
    since = serializers.DateTimeField(
        required=False, help_text="ISO 8601; only requests from then on. Default: since the first record."
    )


_Counts = {"hits": serializers.IntegerField(), "misses": serializers.IntegerField(), "hit_rate": serializers.FloatField()}


class StatsView(APIView):
    """Usage of the whole gateway (every process), from the database rollups. Admin key."""

    permission_classes = [IsAdminKey]

    @extend_schema(
        summary="Usage, cache, rate-limit and spend figures of the whole gateway",
        extensions=contract_errors("invalid_request", "invalid_api_key", "admin_key_required", "internal_error",
                                   "service_unavailable", admin=True),
        parameters=[StatsQuery],
        responses={200: inline_serializer("Stats", {
            "total_requests": serializers.IntegerField(),
            "cache_stats": inline_serializer("CacheStats", {
                "exact_cache": inline_serializer("ExactCacheStats", _Counts),
                "semantic_cache": inline_serializer("SemanticCacheStats", _Counts),
            }),
            "provider_stats": serializers.DictField(child=inline_serializer("ProviderStats", {
                "requests": serializers.IntegerField(), "tokens": serializers.IntegerField(),
                "avg_latency": serializers.FloatField(help_text="seconds"),
            })),
            "rate_limit_stats": inline_serializer("RateLimitStats", {
                "requests_throttled": serializers.IntegerField(),
                "top_users": inline_serializer("TopUser", {
                    "api_key": serializers.CharField(help_text="masked: a prefix and an ellipsis"),
                    "requests": serializers.IntegerField(), "throttled": serializers.IntegerField(),
                }, many=True),
            }),
            "spend_stats": inline_serializer("SpendStats", {
                "total_usd": serializers.FloatField(),
                "by_provider": serializers.DictField(child=serializers.FloatField()),
                "by_model": serializers.DictField(child=serializers.FloatField()),
                "by_team": inline_serializer("TeamSpend", {
                    "team": serializers.CharField(), "cost_usd": serializers.FloatField(),
                }, many=True),
                "top_keys": inline_serializer("KeySpend", {
                    "api_key": serializers.CharField(help_text="masked: a prefix and an ellipsis"),
                    "cost_usd": serializers.FloatField(),
                }, many=True),
            }),
            "since": serializers.DateTimeField(allow_null=True),
        })},
    )
    def get(self, request):
        # A plain dict, not the QueryDict: DRF reads a QueryDict as an HTML form, where an
        # empty field counts as absent, so `?since=` would pass as "since the beginning".
        query = StatsQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        return Response(stats_summary(since=query.validated_data.get("since")))


class _PlainTextRenderer(BaseRenderer):
    media_type, format = "text/plain", "txt"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class _AnyAccept(BaseContentNegotiation):
    """Scrapers send varied Accept headers; /metrics answers the text format to all."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None


class MetricsView(APIView):
    """Prometheus text format. Admin key, or a client IP in GATEWAY_METRICS_ALLOWED_IPS."""

    authentication_classes = [MetricsAuthentication]
    permission_classes = [MetricsAccess]
    renderer_classes = [_PlainTextRenderer]
    content_negotiation_class = _AnyAccept

    # auth named here: derived from MetricsAuthentication, drf-spectacular would register the
    # same two security schemes a second time under another identity (its W001 warning).
    @extend_schema(
        summary="Prometheus metrics (text format)",
        description="Also open, without a key, to client addresses listed in GATEWAY_METRICS_ALLOWED_IPS.",
        extensions=contract_errors("invalid_api_key", "admin_key_required", "internal_error", admin=True),
        responses={(200, "text/plain"): OpenApiTypes.STR}, auth=[{"ApiKeyHeader": []}, {"BearerAuth": []}],
    )
    def get(self, request):
        metrics.initialise_providers(configured_providers())
        body, content_type = metrics.render()
        return HttpResponse(body, content_type=content_type)


class ReloadConfigView(APIView):
    """Re-reads gateway.yaml in every process; an invalid file changes nothing."""

    permission_classes = [IsAdminKey]

    @extend_schema(
        summary="Reload gateway.yaml in every process",
        extensions=contract_errors("invalid_request", "invalid_api_key", "admin_key_required", "internal_error", admin=True),
        request=None, responses={200: inline_serializer("ConfigReloaded", {
        "status": serializers.CharField(), "message": serializers.CharField(),
        "timestamp": serializers.CharField(), "digest": serializers.CharField(),
    })})
    def post(self, request):
        try:
            config = config_reload()
        except ConfigError as exc:
            return _config_refused(request, exc)
        return Response({
            "status": "success", "message": "Configuration reloaded successfully",
            "timestamp": utc_timestamp(), "digest": config.digest,
        })


def _config_refused(request, exc: ConfigError) -> Response:
    error = InvalidRequest("Configuration not reloaded, the running one is unchanged: " + "; ".join(exc.errors))
    body = render_error_body(error, request_id_of(request._request))
    body["error"]["errors"] = exc.errors  # one entry per problem, for tools
    return Response(body, status=error.status)
