from __future__ import annotations

from django.db import models
from django.utils import timezone


class ApiKey(models.Model):
    """A client's key. Only the SHA-256 of the raw key is stored; the raw key is shown once."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="First characters of the key, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_admin = models.BooleanField(default=False, help_text="May call the /admin/* API, /metrics and /stats.")
    rpm = models.PositiveIntegerField(null=True, blank=True, help_text="Requests per minute; empty = gateway default.")
    tpm = models.PositiveIntegerField(null=True, blank=True, help_text="Tokens per minute; empty = gateway default.")
    allowed_models = models.JSONField(default=list, blank=True, help_text="Model names this key may use; empty = all.")
    cache_namespace = models.CharField(
        max_length=64, blank=True, help_text="Keys sharing a namespace share cached answers; empty = this key's own."
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @property
    def namespace(self) -> str:
        # From the key hash, not the row id: ids repeat when a database is recreated while
        # Redis still holds the old entries.
        return self.cache_namespace or f"key-{self.key_hash[:16]}"
