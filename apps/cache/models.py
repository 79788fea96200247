"""The semantic cache's table (Postgres + pgvector).

Created by migration 0001 only when the `vector` extension is available; without it the
table does not exist and the semantic cache reports itself disabled (semantic.py).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from pgvector.django import HnswIndex, VectorField

from apps.cache.embedder import DIMENSIONS


class SemanticCacheEntry(models.Model):
    """One answered question: found by the embedding of its final user message, within
    one scope (everything else about the request, hashed) and one namespace (tenant)."""

    namespace = models.CharField(max_length=100)
    scope = models.CharField(max_length=64, help_text="SHA-256 of the request minus its final user message")
    question = models.TextField(help_text="The final user message, for the verifier")
    embedding = VectorField(dimensions=DIMENSIONS)
    completion = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = "semantic cache entry"
        verbose_name_plural = "semantic cache entries"
        indexes = [
            models.Index(fields=["scope", "namespace"], name="semcache_scope_idx"),
            models.Index(fields=["namespace"], name="semcache_namespace_idx"),
            models.Index(fields=["expires_at"], name="semcache_expires_idx"),
            HnswIndex(
                fields=["embedding"], name="semcache_embedding_hnsw", m=16, ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
        ]

    def __str__(self) -> str:
        return self.question[:60]
