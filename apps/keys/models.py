from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class BudgetPeriod(models.TextChoices):
    LIFETIME = "", "lifetime"
    DAY = "day", "day (UTC)"
    MONTH = "month", "month (UTC)"


def _budget_fields() -> tuple:
    return (
        models.DecimalField(
            max_digits=18, decimal_places=8, null=True, blank=True,
            help_text="Spend limit in USD per period; empty = no budget.",
        ),
        models.CharField(max_length=5, choices=BudgetPeriod.choices, blank=True, default=BudgetPeriod.LIFETIME),
        models.FloatField(
            null=True, blank=True,
            help_text="Soft alert when this fraction of the budget is spent (0.8 = 80 %); empty = none.",
        ),
    )


class Team(models.Model):
    """Owns keys: its allowed models, limits and budget bound every key of it (a key's own
    settings may narrow them, never widen them)."""

    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="gateway_teams",
        help_text="Console users who see this team's keys and usage.",
    )
    allowed_models = models.JSONField(default=list, blank=True, help_text="Model names the team's keys may use; empty = all.")
    rpm = models.PositiveIntegerField(null=True, blank=True, help_text="Requests per minute per key; empty = gateway default.")
    tpm = models.PositiveIntegerField(null=True, blank=True, help_text="Tokens per minute per key; empty = gateway default.")
    budget_usd, budget_period, soft_alert_fraction = _budget_fields()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


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
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="keys")
    budget_usd, budget_period, soft_alert_fraction = _budget_fields()
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
