"""What one Entra provisioning cycle carries while it runs (its report, id, counts, the targets read), and two
small readers of target answers shared by the user and group halves of the job."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from harness.attribute_paths import read_path
from harness.transport import Exchange
from idp_profiles.base import CycleReport


@dataclass
class CycleState:
    """Bookkeeping of the cycle in progress."""
    report: CycleReport
    cycle_id: str
    began: datetime
    objects: int = 0
    failures: int = 0                                        # non-reference failures
    targets: dict[str, dict] = field(default_factory=dict)   # user id -> target object as read this cycle
    stopped: bool = False                                    # a 401/403 mid-cycle quarantined the job


def resources(exchange: Exchange) -> list:
    """The `Resources` of a ListResponse answer, or nothing."""
    body = exchange.response_body
    return (body.get("Resources") or []) if isinstance(body, dict) else []


def read_value(target: Any, path: str) -> Any:
    return read_path(target, path) if isinstance(target, dict) else None
