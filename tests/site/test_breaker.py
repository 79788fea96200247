"""The circuit breaker state machine, on a clock the test moves by hand."""

from gateway_site.breaker import CLOSED, HALF_OPEN, OPEN, Breaker, Breakers, BreakerSettings

SETTINGS = BreakerSettings(threshold=3, cooldown=10.0, probe_timeout=60.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def opened(settings: BreakerSettings = SETTINGS) -> tuple[Breaker, Clock]:
    clock = Clock()
    breaker = Breaker("upstream", settings, clock=clock)
    breaker.failed(trip=True)
    return breaker, clock


def test_it_opens_after_the_threshold_of_consecutive_failures():
    breaker = Breaker("upstream", SETTINGS, clock=Clock())
    assert [breaker.failed() for _ in range(3)] == [False, False, True]
    assert breaker.state == OPEN and not breaker.allow()


def test_it_forgets_failures_that_a_success_interrupted():
    breaker = Breaker("upstream", SETTINGS, clock=Clock())
    breaker.failed(), breaker.failed(), breaker.succeeded(), breaker.failed(), breaker.failed()
    assert breaker.state == CLOSED and breaker.allow()


def test_it_opens_at_once_on_a_failure_that_trips():
    breaker, _ = opened()
    assert breaker.state == OPEN and breaker.failures == 1


def test_it_lets_one_probe_through_after_the_cooldown():
    breaker, clock = opened()
    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.2
    assert breaker.allow() and breaker.state == HALF_OPEN
    assert not breaker.allow()  # the probe is out: everyone else waits for its outcome


def test_it_closes_when_the_probe_succeeds_and_reopens_when_it_fails():
    breaker, clock = opened()
    clock.now += 11
    breaker.allow()
    assert breaker.failed() and breaker.state == OPEN and breaker.opened_at == clock.now
    clock.now += 11
    breaker.allow()
    breaker.succeeded()
    assert breaker.state == CLOSED and breaker.allow() and breaker.allow()


def test_it_closes_when_the_probe_is_refused_as_a_client_error():
    breaker, clock = opened()
    clock.now += 11
    breaker.allow()
    breaker.refused()
    assert breaker.state == CLOSED


def test_a_released_probe_lets_the_next_call_probe_without_penalty():
    breaker, clock = opened()
    clock.now += 11
    breaker.allow()
    breaker.released()
    assert breaker.state == HALF_OPEN and breaker.allow()
    assert not breaker.allow()


def test_a_probe_that_never_reports_is_lost_after_the_probe_timeout():
    breaker, clock = opened()
    clock.now += 11
    assert breaker.allow()
    clock.now += 59
    assert not breaker.allow()
    clock.now += 2
    assert breaker.allow()  # the first probe is presumed lost
    assert not breaker.allow()


def test_without_a_probe_limit_every_call_probes_and_the_first_failure_reopens():
    breaker, clock = opened(BreakerSettings(threshold=3, cooldown=1.0, probes=None))
    clock.now += 1
    assert all(breaker.allow() for _ in range(5))
    assert breaker.failed()  # no threshold while half-open
    assert breaker.state == OPEN


def test_a_failure_while_open_does_not_extend_the_cooldown():
    breaker, clock = opened()
    clock.now += 5
    assert not breaker.failed()
    assert breaker.last_failure_at == clock.now
    clock.now += 5
    assert breaker.allow()


def test_it_tells_listeners_every_change_of_state():
    clock, changes = Clock(), []
    breakers = Breakers(clock=clock)
    breakers.on_state_change(lambda name, state: changes.append((name, state)))
    breaker = breakers.get("anthropic", SETTINGS)
    breaker.failed(trip=True)
    clock.now += 11
    breaker.allow()
    breaker.succeeded()
    assert changes == [("anthropic", OPEN), ("anthropic", HALF_OPEN), ("anthropic", CLOSED)]


def test_the_registry_keeps_one_breaker_per_name_and_applies_new_settings():
    breakers = Breakers(clock=Clock())
    breaker = breakers.get("openai", SETTINGS)
    stricter = BreakerSettings(threshold=1)
    assert breakers.get("openai", stricter) is breaker and breaker.settings is stricter
    breaker.failed()
    assert breakers.is_open("openai") and not breakers.is_open("google")
    breakers.reset()
    assert not breakers.is_open("openai") and breakers.get("openai", SETTINGS) is not breaker


def test_it_remembers_when_it_last_failed():
    breaker, clock = opened()
    first = breaker.last_failure_at
    clock.now += 3
    breaker.failed()
    assert breaker.last_failure_at == first + 3
    assert Breaker("fresh", SETTINGS).last_failure_at < first
