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
    """Real time, optionally sped up for soak runs: `speed` simulated seconds pass per wall second."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._origin = datetime.now(timezone.utc)

    def now(self) -> datetime:
        return self._origin + (datetime.now(timezone.utc) - self._origin) * self.speed

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds / self.speed)

    def wall_time(self, moment: datetime) -> datetime:
        """The wall-clock instant at which this clock shows `moment` (what a real scheduler waits for)."""
        return self._origin + (moment - self._origin) / self.speed


Clock = SimulatedClock | WallClock
