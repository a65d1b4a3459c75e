"""What an Okta admin sees of a provisioning run: per-user app assignment status and open tasks, Group Push status,
and System Log events, with error text in Okta's "<Okta message>: <server message>" form (okta_onelogin.md §6)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus

from harness.transport import Exchange

# Okta System Log event types for each provisioning operation (§6, [OKHELP-EVENTS]).
EVENT_TYPES = {
    "lookup": "application.provision.user.verify_exists",
    "create": "application.provision.user.push",
    "update": "application.provision.user.push_profile",
    "deactivate": "application.provision.user.deactivate",
    "reactivate": "application.provision.user.reactivate",
    "import": "application.provision.user.import",
    "group-add": "application.provision.group_membership.add",
    "group-remove": "application.provision.group_membership.remove",
    "rate-limit": "application.integration.rate_limit_exceeded",
}

# "<task headline> failed: Error while <phase> <login>: <reason>". The lookup and create wording is quoted in the
# sources; the others follow the same pattern (their exact wording is not in the sources).
_HEADLINES = {
    "lookup": ("Automatic provisioning of user {name} to app {app}", "verifying if user {login} exists"),
    "create": ("Automatic provisioning of user {name} to app {app}", "creating user {login}"),
    "update": ("Automatic profile push of user {name} to app {app}", "trying to push profile update for {login}"),
    "deactivate": ("Automatic deactivation of user {name} in app {app}", "deactivating user {login}"),
    "reactivate": ("Automatic reactivation of user {name} in app {app}", "reactivating user {login}"),
    "group": ("Push of group {name} to app {app}", "pushing group {login}"),
}
# The Tasks list's title for each kind of failure.
TASK_TITLES = {"deactivate": "Application accounts need deprovisioning", "group": "Group Push errors"}
DEFAULT_TASK_TITLE = "Application assignments in error"


def remote_reason(exchange: Exchange) -> str:
    """Okta's rendering of a failed response: `Conflict. Errors reported by remote server: <detail>`; a non-JSON
    body becomes an "Invalid JSON" error; no response at all is "null"."""
    if exchange.status is None:
        return "null"
    phrase = next((s.phrase for s in HTTPStatus if s.value == exchange.status), f"HTTP {exchange.status}")
    body = exchange.response_body
    if isinstance(body, dict):
        detail = body.get("detail")
        return f"{phrase}. Errors reported by remote server: {detail}" if detail else phrase
    if isinstance(body, str) and body.strip():
        token = body.strip().split()[0]
        return (f"{phrase}. Errors reported by remote server: Invalid JSON: Unrecognized token '{token}': was "
                "expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')")
    return phrase


class TaskFailed(Exception):
    """An Okta provisioning operation failed: Okta records a task and stops working on that object."""

    def __init__(self, operation: str, exchange: Exchange, reason: str | None = None) -> None:
        self.operation = operation
        self.exchange = exchange
        self.reason = reason or remote_reason(exchange)
        super().__init__(self.reason)


def task_message(operation: str, name: str, login: str, app: str, reason: str) -> str:
    headline, phase = _HEADLINES[operation]
    return (f"{headline.format(name=name, app=app)} failed: Error while "
            f"{phase.format(login=login)}: {reason}")


@dataclass
class Task:
    """One entry under Dashboard → Tasks (an open provisioning error), as the admin reads it."""
    title: str
    subject: str
    operation: str
    message: str
    at: datetime
    exchange: Exchange | None = None


@dataclass
class LogEvent:
    """One System Log event (`outcome` SUCCESS or FAILURE)."""
    at: datetime
    event_type: str
    outcome: str
    target: str
    message: str = ""


@dataclass
class UserRow:
    login: str
    name: str
    okta_id: str
    status: str                    # Provisioned, Deprovisioned, Error, Not provisioned
    external_id: str | None        # the app's id for the user, as Okta stored it when it linked
    task: Task | None = None


@dataclass
class GroupRow:
    name: str
    okta_id: str
    push_status: str               # Active, Error, Unlinked
    target_id: str | None
    task: Task | None = None


@dataclass
class AdminView:
    """Okta's own view of the run, for the run report: one row per app user and per pushed group, plus tasks."""
    app: str
    users: list[UserRow] = field(default_factory=list)
    groups: list[GroupRow] = field(default_factory=list)
    system_log: list[LogEvent] = field(default_factory=list)

    @property
    def tasks(self) -> list[Task]:
        return [row.task for row in [*self.users, *self.groups] if row.task is not None]

    def lines(self) -> list[str]:
        """Console form: status counts, then every open task with its error text."""
        counts: dict[str, int] = {}
        for row in self.users:
            counts[row.status] = counts.get(row.status, 0) + 1
        lines = [f"Okta admin console — {self.app}: app users "
                 + ", ".join(f"{status} {n}" for status, n in sorted(counts.items()))]
        if self.groups:
            lines.append("Push Groups: " + "; ".join(f"{g.name} ({g.push_status})" for g in self.groups))
        tasks = self.tasks
        if tasks:
            lines.append(f"Tasks ({len(tasks)}):")
            lines += [f"  {task.title}: {task.message}" for task in tasks]
        return lines
