"""The soak runner: a short run of every registered profile through a stall and a crash verifies, sees no 5xx,
and keeps the server's memory flat; the memory check itself notices growth."""
from __future__ import annotations

from harness.soak import SoakReport, run_soak, summary
from idp_profiles import PROFILES
from tests.reliability_support import scale


def test_a_short_soak_through_a_stall_and_a_crash_verifies():
    report = run_soak(scale(0.12, 2.0), users=8, fault_every=2.0, fault_seconds=1.0)
    text = summary(report)
    assert report.ok, text
    assert set(report.profiles) == set(PROFILES)
    assert [f.split()[0] for f in report.faults[:2]] == ["stall", "crash"], text
    for tally in report.profiles.values():
        # each profile met the faults: a cycle cut short, or (Okta) a task failed and escrowed
        assert tally.requests > 0 and tally.unreachable + tally.failures >= 1 and tally.server_errors == 0, text


def test_memory_check_tells_flat_from_growing():
    flat = SoakReport(1.0, {}, [], [(t, 1, 50_000 + t % 3) for t in range(30)])
    growing = SoakReport(1.0, {}, [], [(t, 1, 50_000 + 2_000 * t) for t in range(30)])
    restarted = SoakReport(1.0, {}, [], [(t, 1, 80_000) for t in range(10)] + [(t, 2, 40_000) for t in range(20)])
    assert flat.memory_flat and not growing.memory_flat and restarted.memory_flat
    assert growing.memory_growth_kb()[0] == 2_000 * 20
