"""Okta's provisioning of users to a SCIM app: To App save, Test Connector Configuration, import, assignment push
(lookup → POST or link), profile push, deactivation, reactivation per flavour (AIW: GET+PUT; OIN: PATCH active)."""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any, Mapping

from harness.clock import Clock
from harness.directory import Directory, DirectoryEvent, DirectoryUser
from harness.transport import Exchange, ScimClient
from idp_profiles.base import (Cadence, CycleReport, ExpectedGroup, ExpectedUser, IdpProfile, ProbeResult, ProvisioningFailure,
                               Reaction)
from idp_profiles.okta import bodies
from idp_profiles.okta.admin_view import (DEFAULT_TASK_TITLE, EVENT_TYPES, TASK_TITLES, AdminView, LogEvent, Task,
                                          TaskFailed, UserRow, remote_reason, task_message)
from idp_profiles.okta.client import (AUTH_MODES, SPACE_ENCODINGS, TOKEN_FIELDS, OktaScimClient,
                                      authorization_field, send)
from idp_profiles.okta.group_push import GroupPush

PAGE_SIZE = 100
# Events that (re)start an assignment in Okta, so a user whose last create failed is tried again.
ASSIGNING_EVENTS = frozenset({"created", "assigned", "enabled", "member_added"})


@dataclass
class AppUser:
    """Okta's app user: one user's assignment to the app, and the target's id for it once created or linked."""
    object_id: str
    okta_id: str
    target_id: str | None = None
    active: bool = False                      # Okta believes the account is provisioned and active
    created: bool = False                     # Okta created it, so its externalId is the Okta id
    pushed: dict[str, Any] = field(default_factory=dict)   # mapped values last sent
    task: Task | None = None                  # the open error task, if any


@dataclass
class ImportResult:
    """An "Import Now": what Okta scanned and how it compares with the app's assignments."""
    scanned: int = 0
    removed: list[str] = field(default_factory=list)      # inactive app users: not imported
    matched: list[str] = field(default_factory=list)      # same identifier as an Okta user assigned to the app
    unmatched: list[str] = field(default_factory=list)    # same identifier as an Okta user not assigned to the app
    new: list[str] = field(default_factory=list)          # no Okta user: would become new Okta users
    groups_scanned: int = 0
    error: str | None = None


@dataclass
class Batch:
    """The directory changes one push consumes: users to reconcile and, per group, what changed about it."""
    users: dict[str, set[str]] = field(default_factory=dict)            # user id -> event kinds
    groups: dict[str, set[str]] = field(default_factory=dict)           # group id -> members/rename/created/deleted

    def touch_user(self, user_id: str, kind: str) -> None:
        self.users.setdefault(user_id, set()).add(kind)

    def touch_group(self, group_id: str, change: str) -> None:
        self.groups.setdefault(group_id, set()).add(change)


class OktaProfile(IdpProfile):
    """Okta provisioning to one SCIM app. Settings (the admin console's, see `default_settings`):

    flavour            `aiw` (App Integration Wizard: every write GET then full PUT, groups too) or `oin` (catalogue
                       template: PUT for profiles, path-less PATCH for (de)activation, PATCH for every group change)
    auth_mode          `header_bearer` (Okta adds "Bearer ") or `header_verbatim` (the field is sent as typed)
    token_field        what the admin typed: `token` (a doc saying "paste your token") or `bearer_token`
    unique_identifier  SCIM attribute of the assignment lookup (`userName`)
    push_new_users, push_profile_updates, deactivate_users, push_groups, import_groups: provisioning actions
    pushed_groups      Okta group names on the Push Groups tab; ["*"] pushes every group
    unlink_deletes_app_group  unlinking (or deleting the Okta group) also sends DELETE /Groups/{id}
    filter_space       `%20` or `+` for spaces in filter values (both seen from Okta)
    import_paging      `count` (next startIndex += 100, as documented) or `itemsPerPage` (unconfirmed alternative)
    locale, enterprise_mapping  what the app-user profile maps beyond the defaults
    app_label          the app's name in Okta's messages
    """

    name = "okta"
    title = "Okta"
    cadence = Cadence(delay=timedelta(seconds=10))   # a push follows each change within seconds
    default_settings = {
        "flavour": "aiw",
        "auth_mode": "header_bearer",
        "token_field": "token",
        "unique_identifier": "userName",
        "push_new_users": True,
        "push_profile_updates": True,
        "deactivate_users": True,
        "push_groups": True,
        "import_groups": True,
        "pushed_groups": [],
        "unlink_deletes_app_group": False,
        "filter_space": "%20",
        "import_paging": "count",
        "locale": "en-US",
        "enterprise_mapping": False,
        "app_label": "SCIM 2.0 app",
    }
    CHOICES = {"flavour": ("aiw", "oin"), "auth_mode": AUTH_MODES, "token_field": TOKEN_FIELDS,
               "filter_space": SPACE_ENCODINGS, "import_paging": ("count", "itemsPerPage")}
    # Admin actions a scenario can trigger (profile-specific event actions) -> method name.
    scenario_actions = {"push_now": "push_now", "unlink_group": "unlink_group", "import_now": "import_now",
                        "test_connection": "test_connection"}

    @classmethod
    def configure(cls, directory: Directory, base_url: str, token: str | None,
                  settings: Mapping[str, Any] | None = None, clock: Clock | None = None,
                  **client_kwargs: Any) -> "OktaProfile":
        chosen = {**cls.default_settings, **(settings or {})}
        client = OktaScimClient(base_url, authorization_field(token, chosen["token_field"]),
                                auth_mode=chosen["auth_mode"], space_encoding=chosen["filter_space"],
                                **client_kwargs)
        return cls(directory, client, settings, clock)

    def __init__(self, directory: Directory, client: ScimClient, settings: Mapping[str, Any] | None = None,
                 clock: Clock | None = None, rng: random.Random | None = None) -> None:
        super().__init__(directory, client, settings, clock)
        for key, allowed in self.CHOICES.items():
            if self.settings[key] not in allowed:
                raise ValueError(f"Okta setting {key} must be one of {', '.join(allowed)}, "
                                 f"not {self.settings[key]!r}")
        self.rng = rng or random.Random(0)
        self.app_users: dict[str, AppUser] = {}
        self.group_push = GroupPush(self)
        self.app_groups: dict[str, str] | None = None      # displayName (lowercase) -> id, once To App is saved
        self.system_log: list[LogEvent] = []
        self.watermark: int | None = None
        self._report = CycleReport(kind="incremental")

    @property
    def aiw(self) -> bool:
        return self.settings["flavour"] == "aiw"

    # -- requests ---------------------------------------------------------------------------------------------
    def request(self, method: str, path: str, **kwargs: Any) -> Exchange:
        """Send under Okta's 429 policy; every throttled answer becomes a System Log event."""
        return send(self.client, self.clock, method, path, on_throttled=self._throttled, **kwargs)

    def _throttled(self, exchange: Exchange, wait: int) -> None:
        self.log("rate-limit", "FAILURE", exchange.subject or exchange.path,
                 f"{exchange.request_line()} answered 429; waiting {wait} s")

    def require(self, exchange: Exchange, operation: str) -> Exchange:
        """The exchange if Okta accepts it, else TaskFailed with Okta's reason."""
        reaction = self.handle_response(exchange, operation)
        if not reaction.ok:
            raise TaskFailed(operation, exchange, reaction.message)
        return exchange

    def handle_response(self, exchange: Exchange, action: str) -> Reaction:
        """2xx succeeds (a create must return the user); a lookup may say "no match" with 404. Anything else is a
        task error; Okta does not retry it by itself (429 is waited out before it gets here)."""
        status = exchange.status
        if status == 404 and action in ("lookup", "group-lookup"):
            return Reaction()
        if status is not None and 200 <= status < 300:
            body = exchange.response_body
            if action in ("create", "group-create") and not (isinstance(body, dict) and body.get("id")):
                kind = "user" if action == "create" else "group"
                return Reaction("EmptyResponse", f"Create new {kind} returned empty {kind}.")
            return Reaction()
        reason = remote_reason(exchange)
        return Reaction("null" if status is None else reason.split(".")[0], reason)

    def log(self, operation: str, outcome: str, target: str, message: str = "") -> None:
        self.system_log.append(LogEvent(self.clock.now(), EVENT_TYPES.get(operation, operation), outcome, target,
                                        message))

    # -- Test Connector Configuration, To App save, import --------------------------------------------------------
    def test_connection(self) -> ProbeResult:
        """"Test Connector Configuration": exactly `GET /Users?startIndex=1&count=2` (§1)."""
        exchange = self.request("GET", "/Users", params={"startIndex": "1", "count": "2"},
                                purpose="test-connection")
        if exchange.status is None:
            return ProbeResult(False, f"Failed to connect to the SCIM server: {exchange.error}", exchange,
                               "null", unreachable=True)
        if exchange.status in (401, 403):
            return ProbeResult(False, f"Error authenticating: {remote_reason(exchange)}", exchange,
                               str(exchange.status), credentials_rejected=True)
        body = exchange.response_body
        if exchange.status != 200 or not _is_list_response(body):
            return ProbeResult(False, "Connector test failed: " + (
                remote_reason(exchange) if exchange.status != 200 else
                "the response is not a ListResponse with integer totalResults"), exchange, str(exchange.status))
        return ProbeResult(True, "Connector configured successfully", exchange)

    def save_to_app(self) -> ProbeResult:
        """Saving the To App page: the connector probe, then (with Import Groups) the app's groups, cached for Push
        Groups' link-or-create decisions (§1)."""
        probe = self.test_connection()
        if probe.ok and self.settings["import_groups"]:
            groups, _ = self.read_all("/Groups", "app-groups")
            self.app_groups = _by_display_name(groups)
        return probe

    def read_all(self, endpoint: str, purpose: str) -> tuple[list[dict], Exchange | None]:
        """Every resource of an endpoint, paged by startIndex and count=100; the failing exchange, if any."""
        resources: list[dict] = []
        start = 1
        while True:
            exchange = self.request("GET", endpoint, params={"startIndex": str(start), "count": str(PAGE_SIZE)},
                                    purpose=purpose)
            body = exchange.response_body
            if exchange.status != 200 or not _is_list_response(body):
                return resources, exchange
            page = [r for r in body.get("Resources") or [] if isinstance(r, dict)]
            resources += page
            step = PAGE_SIZE if self.settings["import_paging"] == "count" else body.get("itemsPerPage") or 0
            start += step
            if not page or not step or start > body["totalResults"]:
                return resources, None

    def import_now(self, confirm: bool = True) -> ImportResult:
        """"Import Now": users (and groups, with Import Groups) read page by page; inactive users are skipped.
        Confirming matches links them inside Okta and sends nothing."""
        result = ImportResult()
        users, failed = self.read_all("/Users", "import")
        if failed is not None:
            result.error = remote_reason(failed)
        result.scanned = len(users)
        okta_users = {str(self.identifier(u)).lower(): u for u in self.directory.users.values()}
        for resource in users:
            key = str(resource.get(self.settings["unique_identifier"], "")).lower()
            if resource.get("active") is False:
                result.removed.append(key)
                continue
            user = okta_users.get(key)
            if user is None:
                result.new.append(key)
            elif not self.directory.in_scope(user.object_id):
                result.unmatched.append(key)
            else:
                result.matched.append(key)
                if confirm and resource.get("id"):
                    app_user = self.app_user(user.object_id)
                    app_user.target_id, app_user.active = resource["id"], True
        if self.settings["import_groups"] and failed is None:
            pushed = {g.target_id for g in self.group_push.pushed.values()}
            groups, _ = self.read_all("/Groups", "import")
            foreign = [g for g in groups if g.get("id") not in pushed]   # groups Okta pushed are not imported
            result.groups_scanned = len(foreign)
            self.app_groups = _by_display_name(foreign)
        self.log("import", "FAILURE" if result.error else "SUCCESS", self.settings["app_label"],
                 f"{result.scanned} users scanned, {len(result.removed)} removed")
        return result

    # -- push batches -----------------------------------------------------------------------------------------
    def run_cycle(self) -> CycleReport:
        """One push batch: the first one saves To App and pushes every assignment and pushed group; later ones
        push what the directory changed since the previous batch."""
        report = CycleReport(kind="initial" if self.watermark is None else "incremental")
        self.cycles.append(report)
        self._report = report
        if self.watermark is None:
            report.probe = self.save_to_app()
            if not report.probe.ok:
                report.aborted = f"To App settings not saved: {report.probe.message}"
                return report
            batch = Batch(users={uid: {"assigned"} for uid in self.directory.users})
            for group_id in self.directory.groups:
                batch.touch_group(group_id, "created")
        else:
            batch = self.batch(self.directory.events_since(self.watermark))
        self.watermark = self.directory.watermark
        for user_id, kinds in batch.users.items():
            self._push_user(user_id, kinds, batch)
        self.group_push.run(batch)
        return report

    def batch(self, events: list[DirectoryEvent]) -> Batch:
        batch = Batch()
        for event in events:
            if event.object_type == "user":
                batch.touch_user(event.object_id, event.kind)
                continue
            for user_id in self.directory.user_ids_affected_by(event):   # a deleted group's members included
                batch.touch_user(user_id, event.kind)
            change = {"member_added": "members", "member_removed": "members", "updated": "rename",
                      "deleted": "deleted", "created": "created"}.get(event.kind)
            if change:
                batch.touch_group(event.object_id, change)
        return batch

    def apply_scenario_action(self, action: str, params: Mapping[str, Any]) -> str:
        """A profile-specific scenario action (an admin click): `push_now group=…`, `unlink_group group=…
        delete=…`, `import_now`, `test_connection`. Sends its requests at once."""
        if action not in self.scenario_actions:
            raise ValueError(f"Okta has no action {action!r}; known: {', '.join(sorted(self.scenario_actions))}")
        self._report = CycleReport(kind="incremental")
        self.cycles.append(self._report)
        result = getattr(self, self.scenario_actions[action])(**params)
        return f"{action} {', '.join(f'{k}={v}' for k, v in params.items())}".strip() + (
            f": {result}" if result is not None else "")

    def push_now(self, group: str) -> None:
        self.group_push.push_now(self.group_id(group))

    def unlink_group(self, group: str, delete: bool | None = None) -> None:
        self.group_push.unlink(self.group_id(group),
                               self.settings["unlink_deletes_app_group"] if delete is None else delete)

    def group_id(self, name_or_id: str) -> str:
        if name_or_id in self.directory.groups:
            return name_or_id
        found = [g.object_id for g in self.directory.groups.values() if g.display_name == name_or_id]
        if len(found) != 1:
            raise ValueError(f"no single directory group named {name_or_id!r}")
        return found[0]

    # -- one user ---------------------------------------------------------------------------------------------
    def app_user(self, user_id: str) -> AppUser:
        if user_id not in self.app_users:
            self.app_users[user_id] = AppUser(user_id, bodies.okta_id("00u", user_id))
        return self.app_users[user_id]

    def wanted(self, user_id: str) -> bool:
        """Assigned to the app and not deactivated in Okta (suspended users stay provisioned)."""
        user = self.directory.users.get(user_id)
        return user is not None and user.account_enabled and self.directory.in_scope(user_id)

    def values(self, user: DirectoryUser) -> dict[str, Any]:
        return bodies.mapped_values(user, locale=self.settings["locale"],
                                    enterprise=self.settings["enterprise_mapping"])

    def identifier(self, user: DirectoryUser) -> Any:
        return self.values(user).get(self.settings["unique_identifier"])

    def _push_user(self, user_id: str, kinds: set[str], batch: Batch) -> None:
        app_user = self.app_users.get(user_id)
        try:
            if not self.wanted(user_id):
                if app_user and app_user.active and app_user.target_id and self.settings["deactivate_users"]:
                    self._deactivate(app_user)
                return
            user = self.directory.users[user_id]
            if app_user is None or not app_user.active:
                retry = app_user is None or app_user.task is None or kinds & ASSIGNING_EVENTS
                if retry and self.settings["push_new_users"]:
                    self._assign(user, self.app_user(user_id))
                    self.group_push.note_provisioned(user_id, batch)
                return
            if self.settings["push_profile_updates"] and self.values(user) != app_user.pushed:
                self._push_profile(user, app_user, "update")
                self._report.updated.append(user_id)
        except TaskFailed as failure:
            self._fail(user_id, failure)

    def _assign(self, user: DirectoryUser, app_user: AppUser) -> None:
        """Assignment: look the user up by the unique identifier (with paging parameters); no match → POST; one
        match → link to it, reactivate it if inactive, and push the profile over it (§3)."""
        attribute = self.settings["unique_identifier"]
        lookup = self.require(self.request(
            "GET", "/Users", params={"filter": f'{attribute} eq "{self.identifier(user)}"', "startIndex": "1",
                                     "count": str(PAGE_SIZE)}, subject=user.object_id, purpose="lookup"), "lookup")
        found = _resources(lookup) if lookup.status == 200 else []
        if len(found) > 1:
            raise TaskFailed("lookup", lookup, f"{len(found)} users match {attribute} eq \"{self.identifier(user)}\"")
        if not found:
            self._create(user, app_user)
            return
        previous = app_user.target_id
        app_user.target_id = found[0].get("id")
        reactivating = found[0].get("active") is False
        if reactivating and not self.aiw:
            self.require(self.request("PATCH", f"/Users/{app_user.target_id}", body=bodies.active_patch(True),
                                      subject=user.object_id, purpose="reactivate"), "reactivate")
        self._push_profile(user, app_user, "reactivate" if reactivating else "update")
        (self._report.matched if previous is None else self._report.updated).append(user.object_id)

    def _create(self, user: DirectoryUser, app_user: AppUser) -> None:
        body = bodies.create_body(self.values(user), app_user.okta_id, bodies.random_password(self.rng))
        exchange = self.require(self.request("POST", "/Users", body=body, subject=user.object_id,
                                             purpose="create"), "create")
        app_user.target_id, app_user.active, app_user.created = exchange.response_body["id"], True, True
        app_user.pushed, app_user.task = self.values(user), None
        self._report.created.append(user.object_id)
        self.log("create", "SUCCESS", user.user_principal_name)

    def _push_profile(self, user: DirectoryUser, app_user: AppUser, operation: str) -> None:
        """Read-modify-write: GET /Users/{id}, then PUT that body with Okta's values and active true. A 404 halts
        the user: no search, no POST, no retry (§6)."""
        path = f"/Users/{app_user.target_id}"
        current = self.require(self.request("GET", path, subject=user.object_id, purpose="read"), operation)
        values = self.values(user)
        body = bodies.echo_put_body(current.response_body if isinstance(current.response_body, dict) else {},
                                    values, active=True)
        self.require(self.request("PUT", path, body=body, subject=user.object_id, purpose=operation), operation)
        app_user.active, app_user.pushed, app_user.task = True, values, None
        self.log(operation, "SUCCESS", user.user_principal_name)

    def _deactivate(self, app_user: AppUser) -> None:
        """AIW: GET then PUT of that body with only `active` flipped; OIN: path-less PATCH {"active": false}."""
        path = f"/Users/{app_user.target_id}"
        subject = app_user.object_id
        if self.aiw:
            current = self.require(self.request("GET", path, subject=subject, purpose="read"), "deactivate")
            body = bodies.echo_put_body(current.response_body if isinstance(current.response_body, dict) else {},
                                        None, active=False)
            self.require(self.request("PUT", path, body=body, subject=subject, purpose="deactivate"), "deactivate")
        else:
            self.require(self.request("PATCH", path, body=bodies.active_patch(False), subject=subject,
                                      purpose="deactivate"), "deactivate")
        app_user.active, app_user.task = False, None
        self._report.disabled.append(subject)
        self.log("deactivate", "SUCCESS", self.login(subject))

    def login(self, user_id: str) -> str:
        user = self.directory.user(user_id)
        return user.user_principal_name if user else user_id

    def _fail(self, user_id: str, failure: TaskFailed) -> None:
        user = self.directory.user(user_id)
        name = user.display_name if user else user_id
        message = task_message(failure.operation, name, self.login(user_id), self.settings["app_label"],
                               failure.reason)
        task = Task(TASK_TITLES.get(failure.operation, DEFAULT_TASK_TITLE), self.login(user_id), failure.operation,
                    message, self.clock.now(), failure.exchange)
        self.app_user(user_id).task = task
        reaction = self.handle_response(failure.exchange, failure.operation)
        self._report.failures.append(ProvisioningFailure(user_id, self.login(user_id), failure.operation,
                                                         reaction.error_code or "error", message, failure.exchange))
        self.log(failure.operation, "FAILURE", self.login(user_id), message)

    def record_group_failure(self, group_id: str, name: str, failure: TaskFailed) -> Task:
        message = task_message("group", name, name, self.settings["app_label"], failure.reason)
        task = Task(TASK_TITLES["group"], name, failure.operation, message, self.clock.now(), failure.exchange)
        self._report.failures.append(ProvisioningFailure(group_id, name, failure.operation,
                                                         self.handle_response(failure.exchange,
                                                                              failure.operation).error_code or "error",
                                                         message, failure.exchange))
        self.log(failure.operation, "FAILURE", name, message)
        return task

    # -- Okta's view and the expected end state ------------------------------------------------------------------
    def own_view(self) -> tuple[list[str], dict]:
        view = self.admin_view()
        return view.lines(), asdict(view)

    def admin_view(self) -> AdminView:
        """What the Okta admin console shows: each app user's status and open task, each pushed group's status."""
        view = AdminView(self.settings["app_label"], system_log=list(self.system_log))
        for user_id, app_user in self.app_users.items():
            user = self.directory.user(user_id)
            status = ("Error" if app_user.task else "Provisioned" if app_user.active else
                      "Deprovisioned" if app_user.target_id else "Not provisioned")
            view.users.append(UserRow(self.login(user_id), user.display_name if user else user_id, app_user.okta_id,
                                      status, app_user.target_id, app_user.task))
        view.groups = self.group_push.rows()
        return view

    @property
    def links(self) -> dict[str, str]:
        """Directory user id -> the id the target gave it (the interface every profile offers)."""
        return {user_id: app_user.target_id for user_id, app_user in self.app_users.items() if app_user.target_id}

    def expected_users(self) -> list[ExpectedUser]:
        """Assigned, active Okta users present with their mapped values; everyone else, deleted users included,
        at most inactive: Okta never deletes a user in the app."""
        attribute = self.settings["unique_identifier"]
        expected = []
        for user in [*self.directory.users.values(), *self.directory.deleted_users.values()]:
            key = str(self.identifier(user))
            if not self.wanted(user.object_id):
                expected.append(ExpectedUser(user.object_id, user.user_principal_name, "inactive", attribute, key,
                                             {"active": False}))
                continue
            values = {path: value for path, value in self.values(user).items() if path != "locale"}
            values["active"] = True
            app_user = self.app_users.get(user.object_id)
            if app_user and app_user.created:
                values["externalId"] = app_user.okta_id
            expected.append(ExpectedUser(user.object_id, user.user_principal_name, "present", attribute, key,
                                         values))
        return expected

    def expected_groups(self) -> list[ExpectedGroup]:
        return self.group_push.expected()


def _is_list_response(body: Any) -> bool:
    """Okta needs a ListResponse whose totalResults is a JSON integer."""
    return (isinstance(body, dict) and isinstance(body.get("totalResults"), int)
            and not isinstance(body.get("totalResults"), bool) and isinstance(body.get("Resources", []), list))


def _resources(exchange: Exchange) -> list[dict]:
    body = exchange.response_body
    return [r for r in body.get("Resources") or [] if isinstance(r, dict)] if isinstance(body, dict) else []


def _by_display_name(groups: list[dict]) -> dict[str, str]:
    return {str(g.get("displayName", "")).lower(): g["id"] for g in groups if g.get("id")}
