"""Retry timing decisions, without the network."""

from email.utils import format_datetime
import datetime as dt

from apps.completions.providers.types import ModelRoute, ProviderSettings
from apps.completions.router import backoff_delay, retry_after_seconds

ROUTE = ModelRoute(name="m", provider=ProviderSettings(name="p", protocol="openai", base_url="http://x", backoff_base=0.5, backoff_max=8), upstream_model="m")


def test_it_reads_retry_after_in_seconds_milliseconds_and_http_dates():
    assert retry_after_seconds({"Retry-After": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30)
    assert 25 < retry_after_seconds({"Retry-After": format_datetime(later, usegmt=True)}) <= 30
    assert retry_after_seconds({}) is None


def test_it_honours_the_upstreams_retry_after_over_its_own_backoff():
    assert backoff_delay(ROUTE, 0, 2.5) == 2.5


def test_it_backs_off_exponentially_with_jitter_and_a_cap():
    for retries in range(8):
        ceiling = min(8, 0.5 * 2**retries)
        delays = {backoff_delay(ROUTE, retries, None) for _ in range(50)}
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(delays) > 1  # jittered
