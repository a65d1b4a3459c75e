"""Scenario files (TOML, or JSON of the same shape): the starting directory, the IdPs and their settings, timed events,
objects the target already holds and the outcomes a log says the IdP saw (imported scenarios). Loads and validates them into plain records; every error names the file, the line when it can be found, and the key."""
from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from harness.faults import FAULT_KINDS
from harness.sample_org import DEFAULT_GROUPS, DEFAULT_USERS

LIBRARY = Path(__file__).with_name("scenarios")
DEFAULT_SCENARIO = "walking-skeleton"
DEFAULT_WORKSPACE = "default"

# action -> keys it accepts besides the common ones; "user" / "group" are the object the event is about.
ACTIONS: dict[str, frozenset[str]] = {name: frozenset(keys) for name, keys in {
    "hire": {"given_name", "family_name", "upn", "email", "department", "job_title", "manager", "groups", "assign"},
    "rename": {"user", "given_name", "family_name", "upn", "keep_upn"},
    "change_email": {"user", "email"},
    "update": {"user", "display_name", "job_title", "department", "employee_id"},
    "change_manager": {"user", "manager"},
    "suspend": {"user"},
    "unsuspend": {"user"},
    "add_role": {"user", "role"},
    "remove_role": {"user", "role"},
    "move_group": {"user", "group", "from_group", "department"},
    "disable": {"user"},
    "enable": {"user"},
    "assign": {"user", "group"},
    "unassign": {"user", "group"},
    "soft_delete": {"user"},
    "hard_delete": {"user"},
    "group_create": {"group", "members", "assign", "description"},
    "group_rename": {"group", "new_name"},
    "group_delete": {"group"},
    "rotate_token": {"workspace", "reconfigure_after"},
    "update_token": {"workspace"},
    "fault": {"kind", "status", "retry_after", "duration", "delay", "rate"},
}.items()}
# note and change_id (the log's change an imported event recreates) are for the reader; the run ignores them.
COMMON_EVENT_KEYS = frozenset({"at", "action", "every", "times", "idp", "note", "change_id"})
REQUIRED: dict[str, tuple[str, ...]] = {
    "rename": ("user",), "change_email": ("user",), "update": ("user",), "change_manager": ("user", "manager"),
    "move_group": ("user", "group"), "disable": ("user",), "enable": ("user",), "soft_delete": ("user",),
    "hard_delete": ("user",), "group_create": ("group",), "group_rename": ("group", "new_name"),
    "group_delete": ("group",), "fault": ("kind", "duration"),
}
USER_KEYS = frozenset({"upn", "given_name", "family_name", "display_name", "email", "job_title", "department",
                       "employee_id", "manager", "enabled", "assigned"})
GROUP_KEYS = frozenset({"name", "members", "assigned", "description"})
TARGET_USER_KEYS = frozenset({"userName", "externalId", "displayName", "active"})
# [[expect]]: one outcome a provisioning log recorded for a user in the N-th cycle after the initial one.
EXPECT_KEYS = frozenset({"cycle", "user", "action", "status", "error_code", "http_status", "change_id"})
LOGGED_ACTIONS = ("create", "update", "delete", "stageddelete", "disable", "other")
LOGGED_STATUSES = ("success", "warning", "failure", "skipped")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ScenarioError(ValueError):
    """A scenario file that cannot be run; the message starts with `file:line:` and names the key."""

    def __init__(self, source: str, line: int | None, key: str, message: str) -> None:
        self.source, self.line, self.key = source, line, key
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {key}: {message}")


@dataclass(frozen=True)
class IdpSpec:
    profile: str
    workspace: str = DEFAULT_WORKSPACE
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DirectorySpec:
    users: int | None = DEFAULT_USERS        # size of the generated sample org; None: no sample org
    groups: int = DEFAULT_GROUPS
    seed: int = 0
    explicit_users: tuple[dict, ...] = ()
    explicit_groups: tuple[dict, ...] = ()


@dataclass(frozen=True)
class EventSpec:
    index: int                    # position in the file, from 1
    at: timedelta
    action: str
    params: dict[str, Any]
    every: timedelta | None = None
    times: int = 1
    idp: str | None = None        # limit a fault / profile-specific action to one IdP
    line: int | None = None

    def occurrences(self) -> list[timedelta]:
        return [self.at + (self.every or timedelta()) * n for n in range(self.times)]


@dataclass(frozen=True)
class Expectation:
    """A logged outcome the run should reproduce: `cycle` N is the IdP's N-th cycle after the initial one."""
    cycle: int
    user: str
    action: str
    status: str
    error_code: str | None = None
    http_status: int | None = None
    change_id: str | None = None

    def describe(self) -> str:
        code = f": {self.error_code}" if self.error_code else ""
        return f"{self.action} {self.status}{code}" + (f" (HTTP {self.http_status})" if self.http_status else "")


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    until: timedelta
    directory: DirectorySpec
    idps: tuple[IdpSpec, ...]
    events: tuple[EventSpec, ...]
    source: str
    target_users: tuple[dict, ...] = ()           # SCIM users POSTed to the target before the run
    expectations: tuple[Expectation, ...] = ()


def parse_duration(value: Any) -> timedelta:
    """"90s", "40m", "1h30m", "7d", or a number of seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    text = str(value).strip().lower().replace(" ", "")
    parts = _DURATION.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{value!r} is not a duration (use e.g. 90s, 40m, 1h30m, 7d)")
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


def format_duration(delta: timedelta) -> str:
    seconds, parts = int(delta.total_seconds()), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


# -- finding files ----------------------------------------------------------------------------------------------
def library() -> dict[str, Path]:
    """Named scenarios shipped in harness/scenarios/."""
    return {p.stem: p for p in sorted(LIBRARY.glob("*.toml")) + sorted(LIBRARY.glob("*.json"))}


def resolve(name_or_file: str) -> Path:
    path = Path(name_or_file)
    if path.suffix in (".toml", ".json") and path.exists():
        return path
    named = library()
    if name_or_file in named:
        return named[name_or_file]
    raise ScenarioError(name_or_file, None, "scenario",
                        f"no such file and no shipped scenario of that name; shipped: {', '.join(named)}")


def load_scenario(name_or_file: str) -> Scenario:
    path = resolve(name_or_file)
    return parse_scenario(path.read_text(encoding="utf-8"), str(path), json_format=path.suffix == ".json")


# -- parsing ----------------------------------------------------------------------------------------------------
def parse_scenario(text: str, source: str, json_format: bool = False) -> Scenario:
    lines = _Locator(text, json_format)
    try:
        data = json.loads(text) if json_format else tomllib.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(source, exc.lineno, "syntax", exc.msg) from exc
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise ScenarioError(source, int(match.group(1)) if match else None, "syntax", str(exc)) from exc

    def fail(key: str, message: str, table: str | None = None, index: int = 0) -> ScenarioError:
        return ScenarioError(source, lines.find(key.rpartition(".")[2], table, index), key, message)

    if not isinstance(data, dict):
        raise fail("scenario", "the top level must be a table")
    _only(data, {"name", "description", "until", "directory", "idp", "events", "target", "expect"}, "", fail)
    name = data.get("name") or Path(source).stem
    until = _duration(data.get("until", "1d"), "until", fail)
    return Scenario(str(name), str(data.get("description", "")), until,
                    _directory(data.get("directory", {}), fail),
                    tuple(_idps(data.get("idp", []), fail)),
                    tuple(_events(data.get("events", []), until, fail)), source,
                    tuple(_target_users(data.get("target", {}), fail)),
                    tuple(_expectations(data.get("expect", []), fail)))


def _only(table: dict, allowed: set[str] | frozenset[str], prefix: str, fail, where: str | None = None,
          index: int = 0) -> None:
    for key in table:
        if key not in allowed:
            raise fail(f"{prefix}{key}", f"unknown key; expected one of {', '.join(sorted(allowed))}", where, index)


def _duration(value: Any, key: str, fail, table: str | None = None, index: int = 0) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise fail(key, str(exc), table, index) from exc


def _directory(spec: Any, fail) -> DirectorySpec:
    if not isinstance(spec, dict):
        raise fail("directory", "must be a table")
    _only(spec, {"sample_org", "users", "groups"}, "directory.", fail)
    users, groups = spec.get("users", []), spec.get("groups", [])
    for key, rows, allowed, required in (("users", users, USER_KEYS, "upn"), ("groups", groups, GROUP_KEYS, "name")):
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise fail(f"directory.{key}", "must be an array of tables")
        for n, row in enumerate(rows):
            _only(row, allowed, f"directory.{key}[{n}].", fail, f"directory.{key}", n)
            if not row.get(required):
                raise fail(f"directory.{key}[{n}].{required}", "is required", f"directory.{key}", n)
    sample = spec.get("sample_org", None if users or groups else {})
    if sample is None:
        return DirectorySpec(users=None, groups=0, explicit_users=tuple(users), explicit_groups=tuple(groups))
    if not isinstance(sample, dict):
        raise fail("directory.sample_org", "must be a table like { users = 40, groups = 6, seed = 3 }")
    _only(sample, {"users", "groups", "seed"}, "directory.sample_org.", fail)
    for key in sample:
        if not isinstance(sample[key], int) or sample[key] < (1 if key == "users" else 0):
            raise fail(f"directory.sample_org.{key}", "must be a whole number" + (" ≥ 1" if key == "users" else ""))
    return DirectorySpec(sample.get("users", DEFAULT_USERS), sample.get("groups", DEFAULT_GROUPS),
                         sample.get("seed", 0), tuple(users), tuple(groups))


def _rows(rows: Any, key: str, fail) -> list[dict]:
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise fail(key, f"must be an array of tables ([[{key}]])")
    return rows


def _target_users(spec: Any, fail) -> list[dict]:
    if not isinstance(spec, dict):
        raise fail("target", "must be a table")
    _only(spec, {"users"}, "target.", fail)
    rows = _rows(spec.get("users", []), "target.users", fail)
    for n, row in enumerate(rows):
        _only(row, TARGET_USER_KEYS, f"target.users[{n}].", fail, "target.users", n)
        if not isinstance(row.get("userName"), str) or not row["userName"]:
            raise fail(f"target.users[{n}].userName", "is required", "target.users", n)
    return rows


def _expectations(rows: Any, fail) -> list[Expectation]:
    expectations = []
    for n, row in enumerate(_rows(rows, "expect", fail)):
        def bad(key: str, message: str) -> ScenarioError:
            return fail(f"expect[{n}].{key}", message, "expect", n)

        _only(row, EXPECT_KEYS, f"expect[{n}].", fail, "expect", n)
        if not isinstance(row.get("cycle"), int) or isinstance(row["cycle"], bool) or row["cycle"] < 1:
            raise bad("cycle", "is required: a whole number ≥ 1 (the N-th cycle after the initial one)")
        if not isinstance(row.get("user"), str) or not row["user"]:
            raise bad("user", "is required (the user's UPN)")
        for key, allowed in (("action", LOGGED_ACTIONS), ("status", LOGGED_STATUSES)):
            if row.get(key) not in allowed:
                raise bad(key, f"must be one of {', '.join(allowed)}")
        if "http_status" in row and not (isinstance(row["http_status"], int) and 100 <= row["http_status"] <= 599):
            raise bad("http_status", "must be an HTTP status (100-599)")
        expectations.append(Expectation(row["cycle"], row["user"], row["action"], row["status"],
                                        row.get("error_code"), row.get("http_status"), row.get("change_id")))
    return expectations


def _idps(rows: Any, fail) -> list[IdpSpec]:
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise fail("idp", "must be an array of tables ([[idp]])")
    specs = []
    for n, row in enumerate(rows):
        _only(row, {"profile", "workspace", "settings"}, f"idp[{n}].", fail, "idp", n)
        if not isinstance(row.get("profile"), str):
            raise fail(f"idp[{n}].profile", "is required (a key of idp_profiles.PROFILES)", "idp", n)
        if not isinstance(row.get("settings", {}), dict):
            raise fail(f"idp[{n}].settings", "must be a table", "idp", n)
        specs.append(IdpSpec(row["profile"], str(row.get("workspace", DEFAULT_WORKSPACE)),
                             dict(row.get("settings", {}))))
    return specs


def _events(rows: Any, until: timedelta, fail) -> list[EventSpec]:
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise fail("events", "must be an array of tables ([[events]])")
    events = []
    for n, row in enumerate(rows):
        def bad(key: str, message: str) -> ScenarioError:
            return fail(f"events[{n}].{key}", message, "events", n)

        action = row.get("action")
        if not isinstance(action, str) or not action:
            raise bad("action", f"is required; one of {', '.join(ACTIONS)} or an action a profile declares")
        known = ACTIONS.get(action)
        if known is not None:                # profile-specific actions are checked against the profiles later
            _only(row, COMMON_EVENT_KEYS | known, f"events[{n}].", fail, "events", n)
        for key in REQUIRED.get(action, ()):
            if key not in row:
                raise bad(key, f"is required for {action}")
        if action in ("assign", "unassign") and ("user" in row) == ("group" in row):
            raise bad("user", f"{action} needs exactly one of user or group")
        at = _duration(row.get("at", 0), f"events[{n}].at", fail, "events", n)
        every = _duration(row["every"], f"events[{n}].every", fail, "events", n) if "every" in row else None
        times = row.get("times", 1 if every is None else None)
        if every is not None and times is None:
            times = int((until - at) / every) + 1 if every else 1
        if not isinstance(times, int) or times < 1 or (times > 1 and not every):
            raise bad("times", "must be a whole number ≥ 1, and needs `every` when above 1")
        params = {k: v for k, v in row.items() if k not in COMMON_EVENT_KEYS}
        if action == "fault":
            _fault_params(params, bad)
        for key in ("duration", "reconfigure_after"):
            if key in params:
                params[key] = _duration(params[key], f"events[{n}].{key}", fail, "events", n)
        line = fail(f"events[{n}].action", "", "events", n).line
        events.append(EventSpec(n + 1, at, action, params, every, times, row.get("idp"), line))
        if action == "rotate_token" and "reconfigure_after" in params:     # the admin pastes the new token
            events.append(EventSpec(n + 1, at + params["reconfigure_after"], "update_token",
                                    {k: v for k, v in params.items() if k == "workspace"}, every, times,
                                    row.get("idp"), line))
    return events


def _fault_params(params: dict, bad) -> None:
    kind = params["kind"]
    if kind not in FAULT_KINDS:
        raise bad("kind", f"must be one of {', '.join(FAULT_KINDS)}")
    status = params.get("status", 503)
    if not isinstance(status, int) or not 400 <= status <= 599:
        raise bad("status", "must be an HTTP error status (400-599)")
    if kind == "slow" and "delay" not in params:
        raise bad("delay", "is required for a slow fault (seconds added to each answer)")
    rate = params.get("rate", 1)
    if not isinstance(rate, (int, float)) or not 0 < rate <= 1:
        raise bad("rate", "must be a share of requests in (0, 1]")


class _Locator:
    """Finds the line of a key in the source text: inside the N-th [[table]] of TOML (or the N-th object of a JSON
    array), else the first line that sets it."""

    def __init__(self, text: str, json_format: bool) -> None:
        self.lines = text.splitlines()
        self.json_format = json_format

    def find(self, key: str, table: str | None, index: int) -> int | None:
        key = re.sub(r"\[\d+\]$", "", key)
        start, stop = self._table(table, index) if table else (0, len(self.lines))
        pattern = re.compile(rf'(^|[{{,\s])"?{re.escape(key)}"?\s*=' if not self.json_format
                             else rf'"{re.escape(key)}"\s*:')
        for number in range(start, stop):
            if pattern.search(self.lines[number]):
                return number + 1
        return start + 1 if table and start < len(self.lines) else None

    def _table(self, table: str, index: int) -> tuple[int, int]:
        if self.json_format:            # the N-th object opened after the array's key (one object per line or block)
            key = next((n for n, line in enumerate(self.lines) if f'"{table}"' in line), None)
            opened = [n for n, line in enumerate(self.lines) if key is not None and n >= key and "{" in line
                      and (n > key or line.index("{") > line.index(f'"{table}"'))]
            if index >= len(opened):
                return 0, len(self.lines)
            return opened[index], opened[index + 1] if index + 1 < len(opened) else len(self.lines)
        header = re.compile(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]")
        starts = [n for n, line in enumerate(self.lines) if header.match(line)]
        if index >= len(starts):
            return 0, len(self.lines)
        following = [n for n, line in enumerate(self.lines) if n > starts[index] and re.match(r"^\s*\[", line)
                     and not re.match(rf"^\s*\[\s*{re.escape(table)}\.", line)]
        return starts[index], following[0] if following else len(self.lines)
