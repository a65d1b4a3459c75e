"""Time as the harness sees it: a simulated clock that jumps instantly (a week of IdP cycles in seconds) and
the wall clock for --realtime runs. Profiles and the scheduler read time only through a Clock."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

SIMULATION_EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)  # a Monday morning


class SimulatedClock:
    """Virtual time: `sleep` advances it without waiting, so a profile's back-off costs no wall time."""

    def __init__(self, start: datetime = SIMULATION_EPOCH):
        self._now = start

    def now(self) -> datetime:
        return self._now

    def sleep(self, seconds: float) -> None:
        self.advance_to(self._now + timedelta(seconds=seconds))

    def advance_to(self, moment: datetime) -> None:
        if moment > self._now:
            self._now = moment


class WallClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


Clock = SimulatedClock | WallClock
