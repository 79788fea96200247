"""The admin console's front page shows the gateway's figures (the same as /stats)."""

from __future__ import annotations

import datetime as dt

from django import template

from apps.stats.selectors import stats_summary

register = template.Library()


@register.simple_tag
def gateway_stats(hours: int = 24) -> dict:
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=hours)
    return {"hours": hours, "window": stats_summary(since=since), "all_time": stats_summary()}
