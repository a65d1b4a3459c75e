"""APScheduler 3.x drives a simulation's jobs (scenario events, IdP cycles and pushes): in virtual time on the
SimulatedClock, jumping from one fire time to the next, or on the wall clock with a real BackgroundScheduler."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Callable

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.executors.debug import DebugExecutor
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from harness.clock import SimulatedClock, WallClock

Job = Callable[[], object]
Progress = Callable[[datetime], None]
# Jobs never run concurrently (they share the directory) and are never dropped for running late.
JOB_DEFAULTS = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}


class _JobErrors:
    """Collects exceptions raised by jobs so that the run fails loudly instead of logging and carrying on."""

    def __init__(self, scheduler: BaseScheduler) -> None:
        self.errors: list[BaseException] = []
        scheduler.add_listener(self._record, EVENT_JOB_ERROR)

    def _record(self, event: JobExecutionEvent) -> None:
        self.errors.append(event.exception)

    def raise_first(self) -> None:
        if self.errors:
            raise self.errors.pop(0)


class VirtualTimeScheduler(BaseScheduler):
    """An APScheduler whose time is a SimulatedClock: `run_until` takes the job store's earliest job, advances the
    clock to its fire time, runs it in this thread, and asks its trigger for the next fire time. A job that
    advances the clock itself (a slow target) simply makes the next due jobs fire late, as in real life.
    Ties are broken by job id, so ids carry the order (directory events before IdP cycles at the same instant)."""

    def __init__(self, clock: SimulatedClock) -> None:
        self.clock = clock
        self._executor = DebugExecutor()
        super().__init__(timezone=timezone.utc, job_defaults=JOB_DEFAULTS)
        self.add_executor(self._executor)
        self._job_errors = _JobErrors(self)
        self.start()

    def wakeup(self) -> None:
        """Nothing sleeps in virtual time: `run_until` advances the clock to each fire time."""

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)          # abstract in BaseScheduler only to make subclasses think about it

    def _create_default_executor(self) -> DebugExecutor:
        return DebugExecutor()

    def at(self, moment: datetime, job_id: str, func: Job) -> None:
        self.add_job(func, DateTrigger(run_date=moment, timezone=timezone.utc), id=job_id, next_run_time=moment)

    def every(self, first: datetime, interval: timedelta, job_id: str, func: Job) -> None:
        trigger = IntervalTrigger(seconds=interval.total_seconds(), start_date=first, timezone=timezone.utc)
        self.add_job(func, trigger, id=job_id, next_run_time=first)

    def has_job(self, job_id: str) -> bool:
        return self.get_job(job_id) is not None

    def run_until(self, end: datetime, progress: Progress | None = None) -> None:
        while True:
            jobs = [job for job in self.get_jobs() if job.next_run_time is not None]
            if not jobs:
                break
            job = min(jobs, key=lambda j: (j.next_run_time, j.id))
            run_time = job.next_run_time
            if run_time > end:
                break
            self.clock.advance_to(run_time)
            self._executor.submit_job(job, [run_time])
            self._job_errors.raise_first()
            following = job.trigger.get_next_fire_time(run_time, self.clock.now())
            if following is not None:
                self.modify_job(job.id, next_run_time=following)
            else:
                self.remove_job(job.id)
            if progress:
                progress(self.clock.now())
        self.clock.advance_to(end)
        self.shutdown(wait=False)


class RealtimeScheduler:
    """The same jobs on a real BackgroundScheduler (one worker thread: jobs never overlap), for soak runs against a
    live target. Simulated moments are converted to wall-clock instants through the (possibly sped-up) clock."""

    def __init__(self, clock: WallClock) -> None:
        self.clock = clock
        self.scheduler = BackgroundScheduler(timezone=timezone.utc, job_defaults=JOB_DEFAULTS,
                                             executors={"default": ThreadPoolExecutor(1)})
        self._job_errors = _JobErrors(self.scheduler)

    def at(self, moment: datetime, job_id: str, func: Job) -> None:
        wall = self.clock.wall_time(moment)
        self.scheduler.add_job(func, DateTrigger(run_date=wall, timezone=timezone.utc), id=job_id,
                               next_run_time=wall)

    def every(self, first: datetime, interval: timedelta, job_id: str, func: Job) -> None:
        wall = self.clock.wall_time(first)
        trigger = IntervalTrigger(seconds=interval.total_seconds() / self.clock.speed, start_date=wall,
                                  timezone=timezone.utc)
        self.scheduler.add_job(func, trigger, id=job_id, next_run_time=wall)

    def has_job(self, job_id: str) -> bool:
        return self.scheduler.get_job(job_id) is not None

    def run_until(self, end: datetime, progress: Progress | None = None, poll: float = 1.0) -> None:
        self.scheduler.start()
        try:
            while not self._job_errors.errors and (self.clock.now() < end or self._due_by(end)):
                time.sleep(min(poll, max((self.clock.wall_time(end) - datetime.now(timezone.utc))
                                              .total_seconds(), 0.01)))
                if progress:
                    progress(self.clock.now())
        finally:
            self.scheduler.shutdown(wait=True)
        self._job_errors.raise_first()

    def _due_by(self, end: datetime) -> bool:
        """A job whose fire time is within the run has not started yet (the end is inclusive, as in virtual time)."""
        wall_end = self.clock.wall_time(end)
        return any(job.next_run_time is not None and job.next_run_time <= wall_end
                   for job in self.scheduler.get_jobs())


SimulationScheduler = VirtualTimeScheduler | RealtimeScheduler


def scheduler_for(clock: SimulatedClock | WallClock) -> SimulationScheduler:
    return VirtualTimeScheduler(clock) if isinstance(clock, SimulatedClock) else RealtimeScheduler(clock)
