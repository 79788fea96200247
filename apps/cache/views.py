"""Cache administration API (admin key only): GET /admin/cache/stats, POST /admin/cache/clear."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.cache.selectors import cache_stats
from apps.cache.services import cache_clear
from apps.keys.authentication import IsAdminKey
from gateway_site.openapi import contract_errors
from gateway_site.serializer_fields import StrictCharField


class _RedisStats(serializers.Serializer):
    connected = serializers.BooleanField()
    memory_usage = serializers.CharField(help_text="Redis used_memory (the whole server)")
    keys = serializers.IntegerField(help_text="Keys under this gateway's prefix")
    hits = serializers.IntegerField(help_text="Redis keyspace_hits (the whole server)")
    misses = serializers.IntegerField(help_text="Redis keyspace_misses (the whole server)")
    evictions = serializers.IntegerField(help_text="Redis evicted_keys (the whole server)")
    exact_entries = serializers.IntegerField(help_text="Exact-cache answers stored")


class _SemanticStats(serializers.Serializer):
    collection_size = serializers.IntegerField()
    index_size = serializers.CharField()
    queries = serializers.IntegerField()
    hits = serializers.IntegerField()
    avg_similarity = serializers.FloatField()
    state = serializers.CharField(help_text='"enabled" or "disabled: <reason>"')


class CacheStatsOutput(serializers.Serializer):
    redis = _RedisStats()
    semantic_cache = _SemanticStats()


class CacheStatsView(APIView):
    permission_classes = [IsAdminKey]

    @extend_schema(responses={200: CacheStatsOutput}, summary="Cache figures",
                   extensions=contract_errors("invalid_api_key", "admin_key_required", "internal_error", admin=True))
    def get(self, request):
        return Response(cache_stats())


class CacheClearInput(serializers.Serializer):
    exact = serializers.BooleanField(required=False, help_text="Clear only the exact cache (with semantic: both)")
    semantic = serializers.BooleanField(required=False, help_text="Clear only the semantic cache")
    namespace = StrictCharField(required=False, max_length=100, help_text="Only this cache namespace")


class _Cleared(serializers.Serializer):
    exact_cache = serializers.IntegerField()
    semantic_cache = serializers.IntegerField()


class CacheClearOutput(serializers.Serializer):
    status = serializers.CharField()
    message = serializers.CharField()
    cleared = _Cleared()


class CacheClearView(APIView):
    permission_classes = [IsAdminKey]

    @extend_schema(request=CacheClearInput, responses={200: CacheClearOutput}, summary="Empty the caches",
                   extensions=contract_errors("invalid_request", "invalid_api_key", "admin_key_required",
                                              "internal_error", "service_unavailable", admin=True))
    def post(self, request):
        data = CacheClearInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        exact, semantic = data.validated_data.get("exact", False), data.validated_data.get("semantic", False)
        both = exact == semantic  # neither (or both) named: clear both, like `clear_cache`
        cleared = cache_clear(
            exact_cache=exact or both, semantic_cache=semantic or both, namespace=data.validated_data.get("namespace"),
        )
        return Response({"status": "success", "message": "Cache cleared successfully", "cleared": cleared})
