"""Entra provisioning logs as exported (a JSON array of provisioningObjectSummary records, or Graph auditLogs/provisioning
pages) → a scenario of the source-side changes per changeId, with the actions and outcomes Entra logged as expectations.

`simulate --scenario` runs the scenario and says which logged outcomes the target reproduces (harness.expectations);
`shrink_scenario` keeps the fewest logged changes that reproduce the same failures.
"""
from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from idp_profiles.entra.reactions import PREFIX
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
HIRE_ATTRIBUTES = {"user_principal_name", "given_name", "surname", "mail", "job_title", "department"}
UPDATE_ATTRIBUTES = {"display_name", "job_title", "department", "employee_id"}      # the `update` action's keys
CYCLE_MINUTES = 40                       # Entra's incremental cycle
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
    """A scenario in the scheduler's format (harness.scenario_files): the logged cycle N becomes Entra's cycle at
    N×40 minutes (the initial cycle at 0 provisions the directory as it stood), each change lands a minute before
    its cycle, and every logged outcome becomes an [[expect]] for that cycle."""
    users = [r for r in records if r.identity_type.lower() == "user"]
    if not users:
        raise LogFormatError("no user records in the export")
    cycles = {cycle: n for n, cycle in enumerate(dict.fromkeys(r.cycle_id for r in users), start=1)}
    directory: dict[str, dict] = {}      # source id -> [[directory.users]] entry
    current: dict[str, dict] = {}        # source id -> attributes as the events leave them
    events, expectations, target_users = [], [], {}
    for record in users:
        if record.source_id not in current:
            current[record.source_id] = _state_before(record)
            if record.action != "create":
                directory[record.source_id] = _directory_entry(current[record.source_id])
        state = current[record.source_id]
        cycle = cycles[record.cycle_id]
        for event in _events_for(record, state, record.source_id in directory):
            events.append({"at": f"{cycle * CYCLE_MINUTES - 1}m", **event, "change_id": record.change_id})
        expectation = {"cycle": cycle, "user": state["user_principal_name"], "action": record.action,
                       "status": record.status, "error_code": record.error_code,
                       "http_status": record.http_status, "change_id": record.change_id}
        expectations.append({k: v for k, v in expectation.items() if v is not None})
        if canonical_error(record.error_code) == "EntryConflict":
            target_users[state["user_principal_name"].lower()] = {"userName": state["user_principal_name"]}
    described = ", ".join(f"{sum(r.action == a for r in users)} {a}" for a in sorted({r.action for r in users}))
    failures = sum(r.status == "failure" for r in users)
    return {
        "name": name,
        "description": f"Imported from {len(users)} Entra provisioning-log records over {len(cycles)} cycles "
                       f"({described}); {failures} logged failure(s)",
        "until": f"{len(cycles) * CYCLE_MINUTES}m",
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
    return state


def _directory_entry(state: dict[str, Any]) -> dict[str, Any]:
    """[[directory.users]] keys; the mail nickname is left to the loader (the UPN's local part)."""
    entry = {EVENT_KEYS[k]: v for k, v in state.items() if k in EVENT_KEYS and k != "mail_nickname"}
    if state.get("account_enabled") is False:
        entry["enabled"] = False
    if "assigned" in state:
        entry["assigned"] = state["assigned"]
    return entry


def _events_for(record: LogRecord, state: dict[str, Any], pre_existing: bool) -> list[dict[str, Any]]:
    """The source-side change behind one record, in the scheduler's core actions, applied to `state`."""
    upn = state["user_principal_name"]
    if record.action == "create":
        if pre_existing or state.get("_hired"):
            return []                      # a retry of an earlier create: nothing changed in the source
        state["_hired"] = True
        return [{"action": "hire", **{EVENT_KEYS[k]: v for k, v in state.items() if k in HIRE_ATTRIBUTES}}]
    if record.action in ("disable", "delete"):
        return [{"action": "disable" if record.action == "disable" else "hard_delete", "user": upn}]
    if record.action != "update":
        return []
    changed = {TARGET_TO_SOURCE[a]: _source_value(TARGET_TO_SOURCE[a], new) for a, (_, new) in record.modified.items()
               if a in TARGET_TO_SOURCE and new is not None}
    events = []
    if changed.keys() & {"user_principal_name", "given_name", "surname"}:
        given, family = changed.get("given_name", state.get("given_name", "")), changed.get("surname",
                                                                                            state.get("surname", ""))
        rename = {"action": "rename", "user": upn, "given_name": given, "family_name": family}
        events.append({**rename, "upn": changed["user_principal_name"]} if "user_principal_name" in changed
                      else {**rename, "keep_upn": True})
        state.update({k: v for k, v in changed.items() if k in ("user_principal_name", "given_name", "surname")},
                     display_name=f"{given} {family}")          # what rename sets
    if "mail" in changed:
        events.append({"action": "change_email", "user": state["user_principal_name"], "email": changed["mail"]})
    if changed.get("account_enabled") is True:
        events.append({"action": "enable", "user": state["user_principal_name"]})
    other = {EVENT_KEYS[k]: v for k, v in changed.items() if k in UPDATE_ATTRIBUTES and state.get(k) != v}
    if other:
        events.append({"action": "update", "user": state["user_principal_name"], **other})
    state.update(changed)
    return events


# -- scenario files -------------------------------------------------------------------------------------------------
def load_scenario_data(path: str | Path) -> dict[str, Any]:
    """The scenario file as plain data (for shrinking; `scenario_files.load_scenario` validates and runs it)."""
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
Failures = frozenset                     # (user, action, canonical error code) of the logged failures a run reproduced


def shrink_scenario(scenario: dict[str, Any], run: Callable[[dict[str, Any]], Failures]) -> tuple[dict, int]:
    """The fewest logged changes (with their events and expectations) that reproduce the same failures, and the
    number of runs it took. ValueError when the scenario reproduces no failure at all."""
    from harness.shrink import ddmin
    runs = [0]

    def failures_of(changes: list[str]) -> Failures:
        runs[0] += 1
        return run(_restricted(scenario, set(changes)))

    changes = list(dict.fromkeys(e["change_id"] for e in scenario["expect"]))
    wanted = failures_of(changes)
    if not wanted:
        raise ValueError("the target reproduces none of the logged failures: nothing to shrink")
    kept = ddmin(changes, lambda subset: failures_of(subset) == wanted)
    return _restricted(scenario, set(kept)), runs[0]


def _restricted(scenario: dict[str, Any], changes: set[str]) -> dict[str, Any]:
    """The scenario with only the given changes; directory and target users nobody refers to any more dropped."""
    events = [e for e in scenario.get("events", []) if e.get("change_id") in changes]
    expect = [e for e in scenario["expect"] if e.get("change_id") in changes]
    named = {str(e.get("user") or e.get("upn")).lower() for e in events + expect}
    return {**scenario, "events": events, "expect": expect,
            "directory": {"users": [u for u in scenario.get("directory", {}).get("users", [])
                                    if u["upn"].lower() in named]},
            "target": {"users": [u for u in scenario.get("target", {}).get("users", [])
                                 if u["userName"].lower() in named]}}
