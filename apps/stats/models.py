from __future__ import annotations

from django.db import models


class UsageRecord(models.Model):
    """One row per /v1/chat/completions request: success, error or cache hit."""

    class CacheKind(models.TextChoices):
        NONE = "", "miss"
        EXACT = "exact", "exact"
        SEMANTIC = "semantic", "semantic"

    created_at = models.DateTimeField(db_index=True)
    request_id = models.CharField(max_length=40)
    # No database constraint: a key deleted while its records wait in the write buffer must
    # not make the batch fail (and block every later one).
    api_key = models.ForeignKey(
        "keys.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    key_prefix = models.CharField(max_length=16, blank=True)
    # The key's team when the request was made; a plain number, like KeyRollup.key_id.
    team_id = models.BigIntegerField(null=True, blank=True)
    model = models.CharField(max_length=100, blank=True)
    provider = models.CharField(max_length=50, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=14, decimal_places=8, default=0)
    latency_ms = models.FloatField(default=0)
    ttft_ms = models.FloatField(null=True, blank=True, help_text="Time to first token, streams only.")
    status_code = models.PositiveSmallIntegerField()
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.CharField(max_length=300, blank=True, help_text="The error the client got, secrets redacted.")
    cache = models.CharField(max_length=10, choices=CacheKind.choices, blank=True)
    stream = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=1)
    fallback_from = models.CharField(max_length=100, blank=True, help_text="The requested model, when a fallback answered.")
    tokens_estimated = models.BooleanField(
        default=False, help_text="The upstream never reported usage (a stream cut short): tokens estimated from the text."
    )

    class Meta:
        indexes = [
            models.Index(fields=["api_key", "created_at"]),
            # A team's spend in its budget period (apps/keys/budgets.py seeds its counter).
            models.Index(fields=["team_id", "created_at"], name="stats_usage_team_created"),
            # The console's budget refusals over time: a few rows among millions, so partial.
            models.Index(fields=["created_at"], condition=models.Q(error_code="budget_exceeded"),
                         name="stats_usage_budget_refused"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.model} {self.status_code}"


class Span(models.TextChoices):
    HOUR = "h", "hour"
    DAY = "d", "day"


class UsageRollup(models.Model):
    """UsageRecord summed per hour and per day, written in the same transaction as the
    records (apps/stats/rollups.py): /stats reads these instead of scanning the records."""

    span = models.CharField(max_length=1, choices=Span.choices)
    bucket = models.DateTimeField(help_text="Start of the hour or day, UTC.")
    provider = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=100, blank=True)
    cache = models.CharField(max_length=10, blank=True)
    requests = models.BigIntegerField(default=0)
    throttled = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=20, decimal_places=8, default=0)
    latency_ms_sum = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["span", "bucket", "provider", "model", "cache"], name="stats_usagerollup_key"),
        ]


class KeyRollup(models.Model):
    """Requests and spend per API key (and its team then) per hour and per day, for /stats'
    top users and spend. `key_id` and `team_id` are plain numbers (0: none), not foreign
    keys: the figures outlive a deleted key or team."""

    span = models.CharField(max_length=1, choices=Span.choices)
    bucket = models.DateTimeField()
    key_id = models.BigIntegerField()
    team_id = models.BigIntegerField(default=0)
    key_prefix = models.CharField(max_length=16, blank=True)
    requests = models.BigIntegerField(default=0)
    throttled = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=20, decimal_places=8, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["span", "bucket", "key_id", "team_id"], name="stats_keyrollup_key_team"),
        ]
