from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.stats import health
from gateway_site.errors import utc_timestamp

_ProbeSerializer = inline_serializer("Probe", {"status": serializers.CharField(), "timestamp": serializers.CharField()})


class HealthView(APIView):
    """Dependencies and providers; 503 when requests cannot be served."""

    @extend_schema(
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

    @extend_schema(responses={200: _ProbeSerializer, 503: _ProbeSerializer}, auth=[])
    def get(self, request):
        ready = health.check_database() == "connected" and health.check_config()
        body = {"status": "ready" if ready else "not_ready", "timestamp": utc_timestamp()}
        return Response(body, status=200 if ready else 503)


class LivenessView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: _ProbeSerializer}, auth=[])
    def get(self, request):
        return Response({"status": "alive", "timestamp": utc_timestamp()})
