"""Entra provisioning logs as exported (a JSON array of provisioningObjectSummary records, or Graph auditLogs/provisioning
pages) → a scenario of the source-side changes per changeId, with the actions and outcomes Entra logged as expectations.

`reproduce` drives such a scenario through the Entra profile against a target, cycle by logged cycle, and says which
logged outcomes the target reproduces; `shrink_scenario` keeps the fewest changes that reproduce the same failures.
"""
from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable

from harness.directory import Directory, DirectoryUser
from harness.transport import Exchange, ScimClient
from idp_profiles.base import CycleReport
from idp_profiles.entra import EntraProfile
from idp_profiles.entra.reactions import PREFIX
from idp_profiles.entra.shapes import CORE_USER
from idp_profiles.entra.settings import ENTERPRISE_USER

# Entra's default user mappings read backwards: SCIM attribute (as modifiedProperties name it) → source attribute.
TARGET_TO_SOURCE = {
    "userName": "user_principal_name", "displayName": "display_name", "name.givenName": "given_name",
    "name.familyName": "surname", 'emails[type eq "work"].value': "mail", "externalId": "mail_nickname",
    "title": "job_title", f"{ENTERPRISE_USER}:department": "department",
    f"{ENTERPRISE_USER}:employeeNumber": "employee_id", "active": "account_enabled",
}
# Import-step details (the source record as Entra read it) → source attribute.
IMPORT_DETAILS = {
    "userPrincipalName": "user_principal_name", "mailNickname": "mail_nickname", "givenName": "given_name",
    "surname": "surname", "displayName": "display_name", "mail": "mail", "jobTitle": "job_title",
    "department": "department", "employeeId": "employee_id", "accountEnabled": "account_enabled",
}
# Source attribute → the key a scenario event carries it in (docs: scenario file format).
EVENT_KEYS = {"user_principal_name": "upn", "given_name": "given_name", "surname": "family_name",
              "display_name": "display_name", "mail": "email", "mail_nickname": "mail_nickname",
              "job_title": "job_title", "department": "department", "employee_id": "employee_id"}
NAME_ATTRIBUTES = {"user_principal_name", "given_name", "surname", "display_name"}
ACTIONS = {"create", "update", "delete", "stageddelete", "disable", "other"}
ERROR_CODES = ("EntryConflict", "ServiceIncompatible", "MultipleEntriesInResponse", "DuplicateTargetEntries",
               "DuplicateSourceEntries", "TooManyRequests", "InternalServerError", "InsufficientRights",
               "MethodNotAllowed", "NotPermitted", "Unauthorized", "UnprocessableEntity", "WebExceptionProtocolError",
               "InvalidAnchor", "NotImplemented", "MandatoryFieldsMissing", "MissingValues", "Timeout",
               "SchemaAttributeNotFound", "InternalError", "InvalidDomain", "LicenseLimitExceeded",
               "ImportSkipped", "EntrySynchronizationSkipped", "SchemaPropertyCanOnlyAcceptValue", "Conflict")


class LogFormatError(ValueError):
    """The file is neither a provisioning-log export nor a Graph auditLogs/provisioning page."""


@dataclass
class LogRecord:
    record_id: str
    change_id: str
    cycle_id: str
    activity: datetime
    action: str                            # create, update, delete, stageddelete, disable, other
    status: str                            # success, warning, failure, skipped
    identity_type: str                     # User, Group
    source_id: str
    source_name: str
    source: dict[str, Any] = field(default_factory=dict)          # source attributes from the import step
    modified: dict[str, tuple[Any, Any]] = field(default_factory=dict)   # SCIM attribute -> (old, new)
    error_code: str | None = None
    reason: str | None = None

    @property
    def http_status(self) -> int | None:
        found = re.search(r"HTTP status code (\d{3})|StatusCode: (\d{3})|\"status\":\s*\"(\d{3})\"", self.reason or "")
        return int(next(g for g in found.groups() if g)) if found else None


# -- reading exports ----------------------------------------------------------------------------------------------
def load_records(paths: Iterable[str | Path]) -> tuple[list[LogRecord], list[str]]:
    """Every record in the files (arrays, pages, or arrays of pages), oldest first, each record id once; and warnings
    (a last page that links to more, records of a kind the scenario cannot use)."""
    raw: dict[str, dict] = {}
    warnings: list[str] = []
    next_link = None
    for path in paths:
        with open(path, encoding="utf-8-sig") as source:
            data = json.load(source)
        for page in data if isinstance(data, list) and all(_is_page(p) for p in data) and data else [data]:
            if _is_page(page):
                next_link = page.get("@odata.nextLink")
                items = page["value"]
            elif isinstance(page, list):
                items = page
            else:
                raise LogFormatError(f"{path}: expected a JSON array of provisioning records or a Graph page "
                                     "with 'value'")
            for item in items:
                if not isinstance(item, dict) or "changeId" not in item:
                    raise LogFormatError(f"{path}: an element without changeId is not a provisioningObjectSummary")
                raw[item.get("id") or item["changeId"]] = item
    if next_link:
        warnings.append(f"the last page links to more records ({next_link}); the export may be incomplete")
    records = sorted((parse_record(item) for item in raw.values()), key=lambda r: r.activity)
    return records, warnings


def _is_page(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("value"), list)


def parse_record(item: dict) -> LogRecord:
    """One provisioningObjectSummary; the deprecated beta `action`/`statusInfo` are read like the current names."""
    action = str(item.get("provisioningAction") or item.get("action") or "other").lower()
    status_info = item.get("provisioningStatusInfo") or item.get("statusInfo") or {}
    error = status_info.get("errorInformation") or status_info      # statusDetails carries the error inline
    identity = item.get("sourceIdentity") or {}
    source: dict[str, Any] = {}
    for step in item.get("provisioningSteps") or []:
        if step.get("provisioningStepType") == "import":
            for key, value in (step.get("details") or {}).items():
                if key in IMPORT_DETAILS and value is not None:
                    source[IMPORT_DETAILS[key]] = _source_value(IMPORT_DETAILS[key], value)
            if (step.get("details") or {}).get("appRoleAssignments") is not None:
                source["assigned"] = True
        if "NotEffectivelyEntitled" in json.dumps(step.get("details") or {}):
            source["assigned"] = False
    modified = {p["displayName"]: (p.get("oldValue"), p.get("newValue")) for p in item.get("modifiedProperties") or []
                if p.get("displayName")}
    return LogRecord(
        record_id=item.get("id") or item["changeId"], change_id=item["changeId"], cycle_id=item.get("cycleId") or "",
        activity=datetime.fromisoformat(item["activityDateTime"]), action=action if action in ACTIONS else "other",
        status=str(status_info.get("status") or "success").lower(),
        identity_type=identity.get("identityType") or "User", source_id=identity.get("id") or "",
        source_name=identity.get("displayName") or "", source=source, modified=modified,
        error_code=error.get("errorCode") or None, reason=error.get("reason") or None)


def _source_value(attribute: str, value: Any) -> Any:
    if attribute == "account_enabled":
        return str(value).lower() == "true"
    return value


def canonical_error(code: str | None) -> str | None:
    """`SystemForCrossDomainIdentityManagementEntryConflict`, `ContosoEntryConflict` → `EntryConflict`."""
    if not code:
        return None
    code = code.removeprefix(PREFIX)
    return next((known for known in ERROR_CODES if code.endswith(known)), code)


# -- records → scenario -------------------------------------------------------------------------------------------
def scenario_from_records(records: list[LogRecord], name: str = "entra-log-import") -> dict[str, Any]:
    users = [r for r in records if r.identity_type.lower() == "user"]
    if not users:
        raise LogFormatError("no user records in the export")
    cycles = list(dict.fromkeys(r.cycle_id for r in users))
    cycle_start = {c: min(r.activity for r in users if r.cycle_id == c) for c in cycles}
    start = (users[0].activity - timedelta(minutes=40)).replace(second=0, microsecond=0)
    directory: dict[str, dict] = {}      # source id -> [[directory.users]] entry
    current: dict[str, dict] = {}        # source id -> attributes as the events leave them
    events, expectations, target_users = [], [], {}
    for record in users:
        if record.source_id not in current:
            before = _state_before(record)
            current[record.source_id] = dict(before)
            if record.action != "create":
                directory[record.source_id] = {"object_id": record.source_id, **before}
        state = current[record.source_id]
        at = _offset(cycle_start[record.cycle_id] - timedelta(minutes=1) - start)
        for event in _events_for(record, state, record.source_id in directory):
            events.append({"at": at, **event, "cycle": record.cycle_id, "change_id": record.change_id})
        expectation = {"change_id": record.change_id, "cycle": record.cycle_id, "user": state["user_principal_name"],
                       "action": record.action, "status": record.status}
        if record.error_code:
            expectation["error_code"] = record.error_code
        if record.http_status:
            expectation["http_status"] = record.http_status
        expectations.append(expectation)
        if canonical_error(record.error_code) == "EntryConflict":
            target_users[state["user_principal_name"].lower()] = {"userName": state["user_principal_name"]}
    described = ", ".join(f"{sum(r.action == a for r in users)} {a}" for a in sorted({r.action for r in users}))
    failures = sum(r.status == "failure" for r in users)
    return {
        "name": name,
        "description": f"Imported from {len(users)} Entra provisioning-log records over {len(cycles)} cycles "
                       f"({described}); {failures} logged failure(s)",
        "until": _offset(users[-1].activity - start + timedelta(minutes=1)),
        "directory": {"users": list(directory.values())},
        "idp": [{"profile": "entra"}],
        "target": {"users": list(target_users.values())},
        "events": events,
        "expect": expectations,
    }


def _state_before(record: LogRecord) -> dict[str, Any]:
    """The user as the source held it before this (its first logged) change."""
    state = {key: value for key, value in record.source.items() if key != "assigned"}
    state.setdefault("user_principal_name", record.source_name)
    for attribute, (old, new) in record.modified.items():
        if attribute in TARGET_TO_SOURCE and new is not None and old is not None:
            state[TARGET_TO_SOURCE[attribute]] = _source_value(TARGET_TO_SOURCE[attribute], old)
    if record.action == "disable":
        state["account_enabled"] = True
    if record.action != "create":
        state["assigned"] = record.source.get("assigned", True)
    state.setdefault("mail_nickname", state["user_principal_name"].partition("@")[0])
    for name in ("given_name", "surname", "display_name"):
        state.setdefault(name, "")
    return state


def _events_for(record: LogRecord, state: dict[str, Any], pre_existing: bool) -> list[dict[str, Any]]:
    """The source-side change behind one record, applied to `state`."""
    upn = state["user_principal_name"]
    if record.action == "create":
        if pre_existing or state.get("_hired"):
            return []                      # a retry of an earlier create: nothing changed in the source
        state["_hired"] = True
        attributes = {EVENT_KEYS[k]: v for k, v in state.items() if k in EVENT_KEYS and k != "user_principal_name"}
        return [{"action": "hire", "user": upn, "object_id": record.source_id, **attributes}]
    if record.action in ("disable", "delete"):
        return [{"action": "disable" if record.action == "disable" else "hard_delete", "user": upn}]
    if record.action != "update":
        return []
    changed = {TARGET_TO_SOURCE[a]: _source_value(TARGET_TO_SOURCE[a], new) for a, (_, new) in record.modified.items()
               if a in TARGET_TO_SOURCE and new is not None}
    events = []
    renamed = {k: v for k, v in changed.items() if k in NAME_ATTRIBUTES}
    if renamed:
        events.append({"action": "rename", "user": upn, **{EVENT_KEYS[k]: v for k, v in renamed.items()}})
    if "mail" in changed:
        events.append({"action": "change_email", "user": upn, "email": changed["mail"]})
    if changed.get("account_enabled") is True:
        events.append({"action": "enable", "user": upn})
    other = {EVENT_KEYS[k]: v for k, v in changed.items() if k in EVENT_KEYS and k not in NAME_ATTRIBUTES | {"mail"}}
    if other:
        events.append({"action": "update", "user": upn, **other})
    state.update(changed)
    return events


def _offset(delta: timedelta) -> str:
    return f"{max(int(delta.total_seconds() // 60), 0)}m"


# -- reproducing ----------------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    expectation: dict[str, Any]
    observed: str
    reproduced: bool

    @property
    def logged(self) -> str:
        e = self.expectation
        code = f": {e['error_code']}" if e.get("error_code") else ""
        status = f" (HTTP {e['http_status']})" if e.get("http_status") else ""
        return f"{e['action']} {e['status']}{code}{status}"


@dataclass
class Reproduction:
    outcomes: list[Outcome]
    profile: EntraProfile
    seeding: list[Exchange]              # the POSTs that put the log's pre-existing objects in the target

    @property
    def reproduced_failures(self) -> frozenset[tuple[str, str, str | None]]:
        """(user, action, canonical error code) of every logged failure the target reproduced."""
        return frozenset((o.expectation["user"].lower(), o.expectation["action"],
                          canonical_error(o.expectation.get("error_code")))
                         for o in self.outcomes if o.reproduced and o.expectation["status"] == "failure")


def reproduce(scenario: dict[str, Any], base_url: str, token: str | None, **client_kwargs: Any) -> Reproduction:
    """Seed the target with the objects the log shows it already held, provision the directory's starting state
    (an initial cycle), then per logged cycle apply its changes, run one Entra cycle and compare with the log."""
    seeder = ScimClient(base_url, token, **client_kwargs)
    for user in scenario.get("target", {}).get("users", []):
        seeder.post("/Users", {"schemas": [CORE_USER], "active": True, **user}, purpose="seed")
    directory = Directory()
    for entry in scenario.get("directory", {}).get("users", []):
        _hire(directory, entry, assign=entry.get("assigned", True))
    profile = EntraProfile.configure(directory, base_url, token, **client_kwargs)
    profile.run_cycle()
    outcomes = []
    for cycle in dict.fromkeys(e["cycle"] for e in scenario.get("expect", [])):
        for event in (e for e in scenario.get("events", []) if e.get("cycle") == cycle):
            apply_event(directory, event)
        profile.clock.sleep(profile.cadence.interval.total_seconds())   # logged cycles are Entra's 40 min apart
        report = profile.run_cycle()
        for expectation in (e for e in scenario["expect"] if e["cycle"] == cycle):
            outcomes.append(_judge(expectation, report, directory))
    return Reproduction(outcomes, profile, seeder.trace)


def apply_event(directory: Directory, event: dict[str, Any]) -> None:
    """The source-side change of one imported event (the actions `scenario_from_records` writes)."""
    action = event["action"]
    if action == "hire":
        _hire(directory, {"user_principal_name": event["user"], **{
            source: event[key] for source, key in EVENT_KEYS.items() if key in event and key != "upn"},
            "object_id": event["object_id"]}, assign=True)
        return
    object_id = _object_id(directory, event["user"])
    if action == "disable":
        directory.disable_user(object_id)
    elif action == "enable":
        directory.enable_user(object_id)
    elif action == "hard_delete":
        directory.hard_delete_user(object_id)
    elif action in ("rename", "change_email", "update"):
        keys = {"email": "mail", **{key: source for source, key in EVENT_KEYS.items()}}
        directory.update_user(object_id, **{keys[k]: v for k, v in event.items() if k in keys})
    else:
        raise ValueError(f"unknown imported event action {action!r}")


def _hire(directory: Directory, entry: dict[str, Any], assign: bool) -> None:
    fields = {k: v for k, v in entry.items() if k in DirectoryUser.__dataclass_fields__}
    fields.setdefault("mail_nickname", fields["user_principal_name"].partition("@")[0])
    for name in ("given_name", "surname", "display_name"):
        fields.setdefault(name, "")
    directory.add_user(DirectoryUser(**fields))
    if assign:
        directory.assign(fields["object_id"])


def _object_id(directory: Directory, upn: str) -> str:
    for object_id, user in {**directory.deleted_users, **directory.users}.items():
        if user.user_principal_name.lower() == upn.lower():
            return object_id
    raise ValueError(f"no user {upn!r} in the scenario's directory")


def _judge(expectation: dict[str, Any], report: CycleReport, directory: Directory) -> Outcome:
    object_id = _object_id(directory, expectation["user"])
    failures = [f for f in report.failures if f.object_id == object_id]
    done = {"create": report.created, "update": report.updated, "disable": report.disabled,
            "delete": report.deleted}
    sent = [action for action, ids in done.items() if object_id in ids]
    if object_id in report.matched:
        sent.insert(0, "match")
    if failures:
        failure = failures[-1]
        status = failure.exchange.status
        observed = f"{failure.action} failure: {failure.error_code}" + (f" (HTTP {status})" if status else "")
        reproduced = (expectation["status"] == "failure" and failure.action == expectation["action"]
                      and canonical_error(failure.error_code) == canonical_error(expectation.get("error_code"))
                      and expectation.get("http_status") in (None, status))
        return Outcome(expectation, observed, reproduced)
    if not sent:
        return Outcome(expectation, "nothing sent", expectation["status"] == "skipped")
    observed = " + ".join(sent) + " success"
    return Outcome(expectation, observed, expectation["status"] == "success" and expectation["action"] in sent)


# -- scenario files -------------------------------------------------------------------------------------------------
def load_scenario(path: str | Path) -> dict[str, Any]:
    with open(path, "rb") as source:
        return json.load(source) if str(path).lower().endswith(".json") else tomllib.load(source)


def dump_scenario(scenario: dict[str, Any], path: str | Path) -> None:
    text = json.dumps(scenario, ensure_ascii=False, indent=2) + "\n" if str(path).lower().endswith(".json") \
        else to_toml(scenario)
    Path(path).write_text(text, encoding="utf-8")


def to_toml(scenario: dict[str, Any]) -> str:
    """TOML for the scenario's shape: top-level scalars, tables whose values are arrays of flat tables, and
    top-level arrays of flat tables. (JSON strings are valid TOML basic strings.)"""
    lines = [f"{key} = {_toml_value(value)}" for key, value in scenario.items() if not isinstance(value, (dict, list))]
    for key, value in scenario.items():
        if isinstance(value, dict):
            for sub, items in value.items():
                lines += _toml_tables(f"{key}.{sub}", items)
        elif isinstance(value, list):
            lines += _toml_tables(key, value)
    return "\n".join(lines) + "\n"


def _toml_tables(name: str, items: list[dict[str, Any]]) -> list[str]:
    lines = []
    for item in items:
        lines += ["", f"[[{name}]]"] + [f"{key} = {_toml_value(value)}" for key, value in item.items()
                                        if value is not None]
    return lines


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)


# -- shrinking --------------------------------------------------------------------------------------------------
def shrink_scenario(scenario: dict[str, Any], run: Callable[[dict[str, Any]], Reproduction]) -> tuple[dict, int]:
    """The fewest logged changes (with their events and expectations) that reproduce the same failures, and the
    number of runs it took. ValueError when the scenario reproduces no failure at all."""
    from harness.shrink import ddmin
    runs = [0]

    def failures_of(changes: list[str]) -> frozenset:
        runs[0] += 1
        return run(_restricted(scenario, set(changes))).reproduced_failures

    changes = list(dict.fromkeys(e["change_id"] for e in scenario["expect"]))
    wanted = failures_of(changes)
    if not wanted:
        raise ValueError("the target reproduces none of the logged failures: nothing to shrink")
    kept = ddmin(changes, lambda subset: failures_of(subset) == wanted)
    return _restricted(scenario, set(kept)), runs[0]


def _restricted(scenario: dict[str, Any], changes: set[str]) -> dict[str, Any]:
    """The scenario with only the given changes; directory and target users nobody refers to any more dropped."""
    events = [e for e in scenario.get("events", []) if e["change_id"] in changes]
    expect = [e for e in scenario["expect"] if e["change_id"] in changes]
    named = {e["user"].lower() for e in events + expect}
    return {**scenario, "events": events, "expect": expect,
            "directory": {"users": [u for u in scenario.get("directory", {}).get("users", [])
                                    if u["user_principal_name"].lower() in named]},
            "target": {"users": [u for u in scenario.get("target", {}).get("users", [])
                                 if u["userName"].lower() in named]}}
