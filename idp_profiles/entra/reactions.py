"""How the Entra job reacts to what the target answers: error codes per response, escrow with growing retry gaps,
quarantine (reasons, thresholds, reduced frequency, lifting), all on the profile's clock (entra.md §2.5–2.6, §5)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping

from harness.transport import Exchange
from idp_profiles.base import Reaction

# Non-gallery apps report errors with this prefix (gallery apps use the app's name, e.g. ContosoEntryConflict).
PREFIX = "SystemForCrossDomainIdentityManagement"
ENTRY_CONFLICT = f"{PREFIX}EntryConflict"
SERVICE_INCOMPATIBLE = f"{PREFIX}ServiceIncompatible"
DUPLICATE_TARGET_ENTRIES = "DuplicateTargetEntries"
MULTIPLE_ENTRIES = f"{PREFIX}MultipleEntriesInResponse"
ERROR_CODES = {400: SERVICE_INCOMPATIBLE, 401: "Unauthorized", 403: "InsufficientRights", 404: "InvalidAnchor",
               405: "MethodNotAllowed", 409: ENTRY_CONFLICT, 422: "UnprocessableEntity", 429: "TooManyRequests",
               500: "InternalServerError", 501: "NotImplemented"}
# Graph synchronizationQuarantine.reason values (doc S4, MS S19).
CREDENTIALS = "EncounteredQuarantineException"
PROPORTION = "EncounteredEscrowProportionThreshold"
BASE = "EncounteredBaseEscrowThreshold"
TOTAL = "EncounteredTotalEscrowThreshold"
TOO_MANY_DELETES = "TooManyDeletes"
# Actions whose failures are reference failures: they count only toward the absolute cap (doc S4).
REFERENCE_ACTIONS = frozenset({"manager", "members"})


def classify(exchange: Exchange, action: str) -> Reaction:
    """Entra's error code for one response; every failure is escrowed, 401/403 also quarantine the job."""
    status = exchange.status
    if status is not None and 200 <= status < 300:
        if action in ("match", "read") and not isinstance(exchange.response_body, dict):
            return Reaction(SERVICE_INCOMPATIBLE, "We are not able to deserialize the resource received from your "
                                                  "SCIM endpoint.", escrow=True)
        return Reaction()
    if status is None:
        return Reaction("Timeout", exchange.error or "no response", escrow=True)
    code = ERROR_CODES.get(status, "WebExceptionProtocolError" if status >= 500 else SERVICE_INCOMPATIBLE)
    if status == 404 and action == "match":
        code = SERVICE_INCOMPATIBLE             # a query must answer 200 + ListResponse, never 404
    detail = exchange.response_body.get("detail") if isinstance(exchange.response_body, dict) else None
    message = f"StatusCode: {status}" + (f". Web Response: {detail}" if detail else "")
    if status == 404 and action not in ("match", "create"):
        message = f"The previously created or matched object no longer exists in the target (HTTP 404). {message}"
    return Reaction(code, message, escrow=True, quarantine=status in (401, 403))


@dataclass
class EscrowEntry:
    """An object whose last export failed; retried in a later cycle once `next_retry` has passed."""
    object_id: str
    object_type: str                 # user or group
    action: str
    error_code: str
    first_failed: datetime
    next_retry: datetime
    attempts: int = 1

    @property
    def is_reference(self) -> bool:
        return self.action in REFERENCE_ACTIONS


class Escrow:
    """Escrowed objects with growing gaps: first retry after `first` minutes, doubling up to `cap` (once a day)."""

    def __init__(self, first_minutes: float, cap_minutes: float) -> None:
        self.first = timedelta(minutes=first_minutes)
        self.cap = timedelta(minutes=cap_minutes)
        self.entries: dict[str, EscrowEntry] = {}

    def fail(self, object_id: str, object_type: str, action: str, error_code: str, now: datetime) -> EscrowEntry:
        entry = self.entries.get(object_id)
        if entry is None:
            entry = self.entries[object_id] = EscrowEntry(object_id, object_type, action, error_code, now, now)
        else:
            entry.attempts += 1
            entry.action, entry.error_code = action, error_code
        entry.next_retry = now + min(self.first * 2 ** (entry.attempts - 1), self.cap)
        return entry

    def succeed(self, object_id: str) -> None:
        self.entries.pop(object_id, None)

    def due(self, now: datetime, object_type: str) -> list[str]:
        return [e.object_id for e in self.entries.values() if e.object_type == object_type and e.next_retry <= now]

    def __contains__(self, object_id: object) -> bool:
        return object_id in self.entries

    def clear(self) -> None:
        self.entries.clear()


def threshold_breached(escrow: Escrow, cycle_objects: int, cycle_failures: int,
                       settings: Mapping[str, Any]) -> str | None:
    """The quarantine reason the escrow counts trigger, if any (doc S4): the absolute cap counts every failure;
    from `escrow_evaluation_start` on, non-reference failures above the base threshold or a failing share of
    this cycle's objects above the proportion threshold quarantine the job. Mapping of the two to Graph's
    reason names is [inferred]."""
    total = len(escrow.entries)
    own = sum(not e.is_reference for e in escrow.entries.values())
    if total > settings["escrow_total_threshold"]:
        return TOTAL
    if own < settings["escrow_evaluation_start"]:
        return None
    if own > settings["escrow_base_threshold"]:
        return BASE
    if cycle_objects and cycle_failures / cycle_objects > settings["escrow_proportion_threshold"]:
        return PROPORTION
    return None


@dataclass
class Quarantine:
    """A quarantined job (Graph synchronizationQuarantine): cycles wait for `next_attempt`; None waits for the admin."""
    reason: str
    error_code: str | None
    message: str
    series_began: datetime
    current_began: datetime
    next_attempt: datetime | None
    series_count: int = 1
    details: dict[str, Any] = field(default_factory=dict)

    def as_graph(self) -> dict:
        return {"currentBegan": iso(self.current_began), "nextAttempt": iso(self.next_attempt),
                "reason": self.reason, "seriesBegan": iso(self.series_began), "seriesCount": self.series_count,
                "error": {"code": self.error_code, "message": self.message, "tenantActionable": True}}


def quarantine_gap(series_count: int, retry_hours: list[float]) -> timedelta:
    """Gap before the n-th retry while quarantined: 6 h, 12 h, 24 h, then the last gap repeated (doc S4)."""
    return timedelta(hours=retry_hours[min(series_count, len(retry_hours)) - 1])


def iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None
