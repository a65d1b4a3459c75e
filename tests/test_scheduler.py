"""The APScheduler integration: jobs fire in virtual time in order, a slow job delays what follows, job errors
surface, a week of Entra cycles is 253 runs; the real BackgroundScheduler runs the same jobs on a sped-up clock."""
import time
from datetime import timedelta

import pytest

from harness.clock import SimulatedClock, WallClock
from harness.scheduler import RealtimeScheduler, VirtualTimeScheduler, scheduler_for


def test_jobs_fire_in_virtual_time_in_order():
    clock = SimulatedClock()
    start, log = clock.now(), []
    scheduler = VirtualTimeScheduler(clock)
    scheduler.every(start, timedelta(minutes=40), "c:cycle", lambda: log.append(("cycle", clock.now() - start)))
    scheduler.at(start + timedelta(minutes=40), "a:event", lambda: log.append(("event", clock.now() - start)))

    def slow():
        clock.sleep(3000)                                  # a 50-minute job: the 80-minute cycle fires late
        log.append(("slow done", clock.now() - start))

    scheduler.at(start + timedelta(minutes=41), "a:slow", slow)
    wall = time.perf_counter()
    scheduler.run_until(start + timedelta(hours=3))
    assert time.perf_counter() - wall < 1
    minutes = [(name, int(at.total_seconds() // 60)) for name, at in log]
    assert minutes == [("cycle", 0), ("event", 40), ("cycle", 40), ("slow done", 91), ("cycle", 91),
                       ("cycle", 120), ("cycle", 160)]
    assert clock.now() - start == timedelta(hours=3)


def test_a_week_of_entra_cycles_and_jobs_added_while_running():
    clock = SimulatedClock()
    start, runs = clock.now(), []
    scheduler = VirtualTimeScheduler(clock)

    def cycle():
        runs.append(clock.now())
        if len(runs) == 3 and not scheduler.has_job("push"):
            scheduler.at(clock.now() + timedelta(minutes=2), "push", lambda: runs.append("push"))

    scheduler.every(start, timedelta(minutes=40), "cycle", cycle)
    scheduler.run_until(start + timedelta(days=7))
    assert len([r for r in runs if r != "push"]) == 7 * 36 + 1 and runs[3] == "push"


def test_job_errors_surface():
    clock = SimulatedClock()
    scheduler = VirtualTimeScheduler(clock)
    scheduler.at(clock.now(), "boom", lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        scheduler.run_until(clock.now() + timedelta(hours=1))


def test_realtime_scheduler_runs_the_jobs_on_a_sped_up_wall_clock():
    clock = WallClock(speed=3600)                          # an hour per second
    assert isinstance(scheduler_for(clock), RealtimeScheduler)
    start, runs = clock.now(), []
    scheduler = RealtimeScheduler(clock)
    scheduler.every(start, timedelta(minutes=20), "cycle", lambda: runs.append(clock.now() - start))
    scheduler.at(start + timedelta(minutes=30), "event", lambda: runs.append("event"))
    wall = time.perf_counter()
    scheduler.run_until(start + timedelta(minutes=50), poll=0.05)
    assert 0.7 < time.perf_counter() - wall < 3
    assert "event" in runs and len([r for r in runs if r != "event"]) == 3    # +0, +20m, +40m
