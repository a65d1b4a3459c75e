"""Each fault kind, injected at the transport for a window of simulated time against the real embedded server,
reaches the Entra profile the way a real failing server would; outside the window traffic is untouched."""
from datetime import timedelta

import pytest

from harness.clock import SimulatedClock
from harness.faults import INJECTED_HEADER, FaultPlan, FaultWindow
from harness.sample_org import generate_org
from harness.transport import TargetUnreachable
from idp_profiles import load_profile


@pytest.fixture
def rig(live_server):
    clock = SimulatedClock()
    plan = FaultPlan(clock)
    directory = generate_org(seed=1, users=12, groups=2)
    profile = load_profile("entra").configure(directory, live_server.base_url, live_server.token, clock=clock,
                                              session=plan.session("entra"), timeout=10)
    yield clock, plan, profile
    profile.client.session.close()


def _window(clock, kind, **options):
    return FaultWindow(kind, clock.now(), clock.now() + timedelta(hours=1), **options)


def test_status_fault_quarantines_the_cycle(rig):
    clock, plan, profile = rig
    plan.open(_window(clock, "status", status=503))
    report = profile.run_cycle()
    assert report.aborted and "HTTP/503 Service Unavailable" in report.aborted
    assert report.probe.exchange.status == 503
    assert report.probe.exchange.response_headers[INJECTED_HEADER] == "status"
    assert report.probe.exchange.response_body["status"] == "503"
    clock.sleep(3600)                                       # the window closed, but Entra is quarantined:
    assert "quarantined" in profile.run_cycle().aborted    # its first retry comes 6 hours after the failure
    clock.sleep(5 * 3600)
    assert len(profile.run_cycle().created) == 12


def test_throttle_fault_answers_429_with_retry_after(rig):
    clock, plan, profile = rig
    window = plan.open(_window(clock, "throttle", retry_after=120, rate=0.25))
    report = profile.run_cycle()
    throttled = [f for f in report.failures if f.error_code == "TooManyRequests"]
    assert throttled and window.hits == len([e for e in profile.trace if e.status == 429]) > 0
    assert all(f.exchange.response_headers["Retry-After"] == "120" for f in throttled)
    assert window.seen > window.hits                         # only a quarter of the requests
    assert all(f.object_id in profile.escrow for f in throttled)   # Entra retries them in a later cycle


def test_slow_fault_advances_the_clock(rig):
    clock, plan, profile = rig
    start = clock.now()
    plan.open(FaultWindow("slow", start, start + timedelta(days=1), delay=7))
    report = profile.run_cycle()
    assert len(report.created) == 12 and not report.failures
    slowed = [e for e in profile.trace if e.response_headers.get(INJECTED_HEADER) == "slow 7s"]
    assert len(slowed) == len(profile.trace)
    assert clock.now() - start == timedelta(seconds=7 * len(profile.trace))


def test_slow_fault_beyond_the_timeout_is_a_timeout(rig):
    clock, plan, profile = rig
    plan.open(_window(clock, "slow", delay=30))             # the client's timeout is 10 s
    with pytest.raises(TargetUnreachable) as caught:
        profile.run_cycle()
    assert "ReadTimeout" in caught.value.exchange.error and "[injected fault]" in caught.value.exchange.error


def test_drop_fault_is_a_connection_error_the_profile_sees(rig):
    clock, plan, profile = rig
    plan.open(_window(clock, "drop", idp="entra"))
    with pytest.raises(TargetUnreachable) as caught:
        profile.run_cycle()
    assert caught.value.exchange.status is None
    assert caught.value.exchange.error.startswith("ConnectionError: [injected fault]")


def test_a_fault_aimed_at_another_idp_does_not_touch_this_one(rig):
    clock, plan, profile = rig
    window = plan.open(_window(clock, "drop", idp="okta"))
    assert len(profile.run_cycle().created) == 12 and window.seen == 0
