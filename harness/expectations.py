"""A scenario's [[expect]] table checked against the IdP's own provisioning log after a run: each logged outcome
reproduced or not, and the verdict line `simulate` prints for imported scenarios."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from harness.entra_logs import LogRecord, canonical_error, parse_record
from harness.scenario_files import Expectation

if TYPE_CHECKING:
    from harness.simulate import IdpRun, SimulationRun


@dataclass(frozen=True)
class Outcome:
    expectation: Expectation
    observed: str
    reproduced: bool

    def line(self) -> str:
        mark = "reproduced    " if self.reproduced else "NOT reproduced"
        e = self.expectation
        return f"  {mark}  cycle {e.cycle} {e.user}: logged {e.describe()}; simulated {self.observed}"

    def as_json(self) -> dict[str, Any]:
        e = self.expectation
        return {"cycle": e.cycle, "user": e.user, "action": e.action, "status": e.status,
                "error_code": e.error_code, "http_status": e.http_status, "change_id": e.change_id,
                "observed": self.observed, "reproduced": self.reproduced}


def check_expectations(run: SimulationRun) -> list[Outcome]:
    """Every expectation judged against the log of the first IdP that keeps one (Entra's provisioningObjectSummary
    entries); without such an IdP nothing is reproduced."""
    idp = next((i for i in run.idps if hasattr(i.profile, "provisioning_log")), None)
    records = [parse_record(entry) for entry in idp.profile.provisioning_log()] if idp else []
    upns = _every_upn(run)
    return [_judge(e, _in_cycle(records, idp, e.cycle), upns.get(e.user.lower())) for e in run.scenario.expectations]


def reproduced_failures(outcomes: list[Outcome]) -> frozenset[tuple[str, str, str | None]]:
    """(user, action, canonical error code) of every logged failure the run reproduced."""
    return frozenset((o.expectation.user.lower(), o.expectation.action, canonical_error(o.expectation.error_code))
                     for o in outcomes if o.reproduced and o.expectation.status == "failure")


def verdict(outcomes: list[Outcome]) -> str:
    return f"Reproduced {sum(o.reproduced for o in outcomes)} of {len(outcomes)} logged outcomes"


def _every_upn(run: SimulationRun) -> dict[str, str]:
    """Every UPN a user had during the run (renames included) → its object id."""
    directory = run.directory
    found = {u.user_principal_name.lower(): i for i, u in {**directory.deleted_users, **directory.users}.items()}
    for event in directory.events:
        old = event.changes.get("user_principal_name")
        if old and old[0]:
            found.setdefault(str(old[0]).lower(), event.object_id)
    return found


def _in_cycle(records: list[LogRecord], idp: IdpRun | None, cycle: int) -> list[LogRecord]:
    """The records of the IdP's `cycle`-th cycle after the initial one (by time: it runs from its start to the next)."""
    if idp is None or cycle >= len(idp.cycles):
        return []
    began = idp.cycles[cycle].at
    ended = idp.cycles[cycle + 1].at if cycle + 1 < len(idp.cycles) else datetime.max.replace(tzinfo=began.tzinfo)
    return [r for r in records if began <= r.activity < ended]


def _judge(expected: Expectation, records: list[LogRecord], object_id: str | None) -> Outcome:
    mine = [r for r in records if object_id and r.source_id == object_id]
    if not mine:
        return Outcome(expected, "no log entry", expected.status == "skipped")
    for record in mine:
        if _matches(expected, record):
            return Outcome(expected, _describe(record), True)
    return Outcome(expected, "; ".join(_describe(r) for r in mine), False)


def _matches(expected: Expectation, record: LogRecord) -> bool:
    return (record.action == expected.action and record.status == expected.status
            and canonical_error(record.error_code) == canonical_error(expected.error_code)
            and expected.http_status in (None, record.http_status))


def _describe(record: LogRecord) -> str:
    return Expectation(0, "", record.action, record.status, record.error_code, record.http_status).describe()
