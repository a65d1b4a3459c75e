"""Shared by the reliability tests: the long-run switch and hypothesis profiles, a snapshot of everything a
workspace's requests could change, and the check that a response is a well-formed SCIM error."""
from __future__ import annotations

import os
import sqlite3
from collections import Counter

from hypothesis import HealthCheck, settings

SLOW_ENV = "SCIMHARNESS_SLOW"
LONG_RUN_EXAMPLES = 1000
QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]


def _long_run_examples() -> int:
    """SCIMHARNESS_SLOW=1 (or `pytest --slow`) means 1000 examples a property; SCIMHARNESS_SLOW=N means N."""
    value = os.environ.get(SLOW_ENV, "")
    return int(value) if value.isdigit() and int(value) > 1 else LONG_RUN_EXAMPLES


# The normal suite stays within seconds and is the same every run; the long run explores.
settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True, suppress_health_check=QUIET)
settings.register_profile("slow", max_examples=_long_run_examples(), deadline=None, suppress_health_check=QUIET)
# What the reliability tests tried, printed at the end of the run (tests/conftest.py) for the long-run figures.
TALLY: Counter = Counter()
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
# The request log is written by every request, rejected or not; everything else must stay as it was.
LOG_TABLES = ("request_log", "sqlite_sequence")


def slow_run() -> bool:
    return os.environ.get(SLOW_ENV, "") not in ("", "0")


def scale(normal: int, slow: int) -> int:
    """A loop bound for the normal suite, or for the long run."""
    return slow if slow_run() else normal


def load_profile() -> None:
    settings.load_profile("slow" if slow_run() else "ci")


def sql_dump(db_path: str) -> list[str]:
    connection = sqlite3.connect(db_path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def snapshot(db_path: str) -> list[str]:
    """Every row outside the request log, as SQL text: equal snapshots mean nothing was written."""
    return [line for line in sql_dump(db_path)
            if not any(f'"{table}"' in line.split("VALUES")[0] for table in LOG_TABLES)]


def assert_scim_error(status: int, body) -> None:
    """A SCIM error (RFC 7644 §3.12): the error schema, the HTTP status as a string, a detail."""
    assert isinstance(body, dict), body
    assert body.get("schemas") == [ERROR_SCHEMA], body
    assert body.get("status") == str(status), body
    assert isinstance(body.get("detail"), str), body
