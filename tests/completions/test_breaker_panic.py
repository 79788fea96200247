"""When every route of a request has an open breaker, the one that failed least recently
is tried anyway (Envoy's panic threshold): a request is never refused by breakers alone."""

import pytest

from apps.stats import metrics
from gateway_site.breaker import provider_breakers

pytestmark = pytest.mark.django_db(transaction=True)


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The breakers' clock, moved by hand: cool-downs end only when the test says so."""
    clock = Clock()
    monkeypatch.setattr(provider_breakers(), "clock", clock)
    return clock


def panics(provider: str) -> float:
    return metrics.BREAKER_PANICS.labels(provider)._value.get()


def test_it_tries_the_least_recently_failed_route_when_every_breaker_is_open(chat, clock):
    assert chat("hi fake:status=500", model="second").status_code == 502  # "brittle" opens first
    clock.now += 0.01
    assert chat("hi fake:status=500", model="first").status_code == 502  # then "fragile"
    assert provider_breakers().is_open("fragile") and provider_breakers().is_open("brittle")
    before = panics("brittle")
    answer = chat("hello", model="first")  # within the cool-down (0.1 s): both still open
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Gateway-Fallback-Model"] == "second"
    assert panics("brittle") == before + 1
    assert not provider_breakers().is_open("brittle")  # its answer closed it


def test_it_answers_with_the_upstream_error_when_the_panic_attempt_fails_too(chat, clock):
    assert chat("hi fake:status=500", model="first").status_code == 502
    failed = chat("again fake:status=503", model="first")
    assert failed.status_code == 502 and "503" in failed.json()["error"]["message"]
