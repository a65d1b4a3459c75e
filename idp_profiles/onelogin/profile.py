"""OneLogin's "SCIM Provisioner with SAML" app: the admin's configuration and the requests it makes — userName lookup,
POST/PUT of the rendered SCIM JSON Template, deprovision actions, approvals, groups from roles (okta_onelogin.md §8–10).

Settings marked unconfirmed in the reference are settings here, with the most likely behaviour as the default:
the update verb (PUT), the connection-test userName, whether a scim+json response is accepted."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

from harness.attribute_paths import get_ci
from harness.clock import Clock
from harness.directory import Directory, DirectoryUser
from harness.transport import Exchange, ScimClient, TargetUnreachable
from idp_profiles.base import Cadence, CycleReport, ExpectedGroup, ExpectedUser, IdpProfile, ProbeResult, ProvisioningFailure, Reaction
from idp_profiles.onelogin.fields import UserVocabulary
from idp_profiles.onelogin.groups import (JOINED_SEPARATOR, GroupRule, create_group_body, group_values,
                                          membership_patch)
from idp_profiles.onelogin.template import ScimTemplate

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
PAGE_SIZE = 100
DEPROVISION_ACTIONS = ("delete", "suspend", "nothing")     # "When users are deleted in OneLogin, or app access…"
SUSPENDED_ACTIONS = ("suspend", "nothing")                 # "When user accounts are suspended in OneLogin…"
APPROVAL_KINDS = ("create", "update", "delete")            # "Require admin approval before this action…"
# Which approval checkbox holds each intent: losing access is a "Delete user" task even when it suspends.
APPROVAL_OF = {"create": "create", "update": "update", "suspend": "update", "deprovision": "delete"}


@dataclass
class PendingTask:
    """A provisioning task waiting for an admin's Approve."""
    object_id: str
    intent: str             # create, update, suspend, deprovision
    approval: str           # the checkbox that holds it: create, update, delete
    queued_at: datetime


@dataclass(frozen=True)
class AdminViewRow:
    """One line of the app's Users tab: OneLogin's provisioning state for a user."""
    label: str
    object_id: str
    status: str             # Provisioned, Pending, Failed, Suspended, Deleted, Not provisioned
    last_action: str
    reason: str = ""
    groups: tuple[str, ...] = ()

    def describe(self) -> str:
        text = f"{self.label}: {self.status} ({self.last_action})"
        if self.groups:
            text += f", groups: {', '.join(self.groups)}"
        return text + (f" — {self.reason}" if self.reason else "")


class OneLoginProfile(IdpProfile):
    name = "onelogin"
    title = "OneLogin"
    # Provisioning runs shortly after each change (no fixed cycle); the exact delay is unpublished.
    cadence = Cadence(delay=timedelta(minutes=1))
    scenario_actions = frozenset({"approve", "refresh_entitlements"})
    # OneLogin's own documentation speaks only of application/json; Docker asks admins to add scim+json as a
    # Custom Header, so plain JSON is the likely default. Its User-Agent is unconfirmed: the harness's own is sent.
    client_options = {"content_type": "application/json"}
    default_settings: dict[str, Any] = {
        "template": "core-2.0",                 # shipped name, path to a template file, or the JSON text itself
        "parameters": {                         # Parameters tab: name -> macro over user fields
            "scimusername": "{username}",       # vendors often say Email: set "{email}"
            "title": "{title}",
            "department": "{department}",
            "external_manager_id": "{manager_id}",
        },
        "custom_fields": {},                    # {$user.custom_fields.<name>} -> directory attribute
        "custom_headers": {},                   # Configuration tab: Custom Headers, sent with every request
        "api_connection": True,                 # API Connection: Enable
        "provisioning": True,                   # Provisioning tab: Enable provisioning
        "require_approval": [],                 # any of create, update, delete
        "deprovision_action": "delete",         # delete | suspend | nothing
        "suspended_action": "suspend",          # suspend | nothing
        "update_verb": "PUT",                   # PUT (observed 2020) | PATCH (unconfirmed newer connectors)
        "groups_include_in_provisioning": False,  # Groups parameter: "Include in User Provisioning"
        "groups_multi_value": True,             # Groups parameter flagged multi-value (else roles join)
        "rules": [],                            # [{roles_matching = ".*"}, {group = "All Staff"}]
        "connection_test_username": "never-existing-user",   # the literal OneLogin uses is unconfirmed
        "strict_content_type": False,           # True: a 2xx answer that is not application/json fails
    }

    def __init__(self, directory: Directory, client: ScimClient, settings: Mapping[str, Any] | None = None,
                 clock: Clock | None = None) -> None:
        super().__init__(directory, client, settings, clock)
        self._check_choices()
        self.vocabulary = UserVocabulary(self.settings["parameters"], self.settings["custom_fields"])
        self.template = ScimTemplate.load(self.settings["template"])
        self.template.check(self.vocabulary.explain_unknown, self.vocabulary.probe_values())
        self.rules = [GroupRule.parse(rule) for rule in self.settings["rules"]]
        client.headers.update(self.settings["custom_headers"])
        self.connected = False
        self.watermark: int | None = None
        self.unsent: list[str] = []               # users a provisioning run could not reach the target for
        self.links: dict[str, str] = {}                   # directory object id -> target user id
        self.memberships: dict[str, list[str]] = {}       # object id -> group names it was added to
        self.group_ids: dict[str, str] = {}               # displayName -> target group id
        self.pushed_groups: set[str] = set()              # groups OneLogin created or added a member to
        self.entitlements: list[str] = []                 # group names from the last Refresh Entitlements
        self.pending: dict[str, PendingTask] = {}
        self.states: dict[str, AdminViewRow] = {}

    def _check_choices(self) -> None:
        s = self.settings
        problems = []
        if s["deprovision_action"] not in DEPROVISION_ACTIONS:
            problems.append(f"deprovision_action must be one of {', '.join(DEPROVISION_ACTIONS)}")
        if s["suspended_action"] not in SUSPENDED_ACTIONS:
            problems.append(f"suspended_action must be one of {', '.join(SUSPENDED_ACTIONS)}")
        if set(s["require_approval"]) - set(APPROVAL_KINDS):
            problems.append(f"require_approval takes {', '.join(APPROVAL_KINDS)}")
        if s["update_verb"] not in ("PUT", "PATCH"):
            problems.append("update_verb must be PUT or PATCH")
        if problems:
            raise ValueError("OneLogin app configuration is invalid: " + "; ".join(problems))

    # -- API Connection: Enable ---------------------------------------------------------------------------------
    def test_connection(self) -> ProbeResult:
        """One lookup of a userName that cannot exist; an empty list or a 404 both confirm the endpoint."""
        name = self.settings["connection_test_username"]
        exchange = self.client.get("/Users", params={"filter": f'userName eq "{name}"'}, purpose="test-connection")
        status, body = exchange.status, exchange.response_body
        if status in (401, 403):
            result = ProbeResult(False, f"API connection failed: the SCIM Bearer Token was rejected (HTTP {status})",
                                 exchange, f"HTTP {status}", credentials_rejected=True)
        elif status == 404:
            result = ProbeResult(True, "API connection enabled (the lookup answered 404, which OneLogin accepts)",
                                 exchange)
        elif status == 200 and isinstance(body, dict) and not body.get("Resources") and not body.get("totalResults"):
            result = ProbeResult(True, "API connection enabled", exchange)
        elif status == 200:
            result = ProbeResult(False, f"API connection failed: the lookup of {name!r} did not answer an empty "
                                        "list", exchange, "HTTP 200")
        else:
            result = ProbeResult(False, f"API connection failed: HTTP {status}", exchange, f"HTTP {status}")
        self.connected = result.ok
        return result

    # -- provisioning -------------------------------------------------------------------------------------------
    def run_cycle(self) -> CycleReport:
        report = CycleReport(kind="initial" if self.watermark is None else "incremental")
        self.cycles.append(report)
        if not self.settings["provisioning"]:
            report.aborted = "Enable provisioning is off: OneLogin sends nothing"
            return report
        if not self.connected:
            if not self.settings["api_connection"]:
                report.aborted = "API Connection is not enabled"
                return report
            report.probe = self.test_connection()
            if not report.probe.ok:
                report.aborted = report.probe.message
                return report
        if report.kind == "initial":
            candidates = list(self.directory.users)
        else:
            candidates = [uid for event in self.directory.events_since(self.watermark or 0)
                          for uid in self.directory.user_ids_affected_by(event)]
        self.watermark = self.directory.watermark
        queue = list(dict.fromkeys([*self.unsent, *candidates]))
        for position, object_id in enumerate(queue):
            try:
                self._reconcile(object_id, report, approved=False)
            except TargetUnreachable:
                self.unsent = queue[position:]   # not lost: tried again at the next provisioning run
                raise
        self.unsent = []
        return report

    def approve(self, approval: str | None = None, object_id: str | None = None) -> CycleReport:
        """The admin clicks Approve on pending tasks (all, or one checkbox's, or one user's): they run now."""
        report = CycleReport(kind="incremental")
        self.cycles.append(report)
        for task in list(self.pending.values()):
            if approval in (None, task.approval) and object_id in (None, task.object_id):
                del self.pending[task.object_id]
                self._reconcile(task.object_id, report, approved=True)
        return report

    def apply_scenario_action(self, action: str, params: Mapping[str, Any]) -> str:
        """OneLogin-only scenario events: `approve` (optional `task` = create|update|delete, optional `user`) or
        `refresh_entitlements`."""
        extra = set(params) - ({"task", "user"} if action == "approve" else set())
        if extra:
            raise ValueError(f"{action} takes no {', '.join(sorted(extra))}")
        if action == "approve":
            report = self.approve(params.get("task"), params.get("user"))
            return f"approved {len(report.created) + len(report.updated) + len(report.disabled) + len(report.deleted)} pending task(s)"
        if action == "refresh_entitlements":
            return "refreshed entitlements: " + (", ".join(self.refresh_entitlements()) or "no groups")
        raise ValueError(f"OneLogin has no scenario action {action!r}; it has {', '.join(sorted(self.scenario_actions))}")

    def refresh_entitlements(self) -> list[str]:
        """Entitlements → Refresh: list the target's groups; returns their names."""
        report = CycleReport(kind="incremental")
        self.cycles.append(report)
        found = self._list_groups(None, report, purpose="refresh-entitlements")
        if found is not None:
            self.entitlements = sorted(found)
        return self.entitlements

    def _has_access(self, object_id: str) -> bool:
        return object_id in self.directory.users and self.directory.in_scope(object_id)

    def _intent(self, object_id: str) -> str | None:
        linked = object_id in self.links
        if not self._has_access(object_id):
            return "deprovision" if linked and self.settings["deprovision_action"] != "nothing" else None
        if not self.directory.users[object_id].account_enabled:
            return "suspend" if linked and self.settings["suspended_action"] == "suspend" else None
        return "update" if linked else "create"

    def _reconcile(self, object_id: str, report: CycleReport, approved: bool) -> None:
        intent = self._intent(object_id)
        self.pending.pop(object_id, None)
        if intent is None:
            if object_id in self.links and not self._has_access(object_id):     # access removed, Do nothing
                self._unlink(object_id)
                self._set_state(object_id, "Not provisioned", "deprovision", "app access removed; the action is "
                                                                             "Do nothing")
            report.skipped.append(object_id)
            return
        approval = APPROVAL_OF[intent]
        if not approved and approval in self.settings["require_approval"]:
            self.pending[object_id] = PendingTask(object_id, intent, approval, self.clock.now())
            self._set_state(object_id, "Pending", intent, f"waiting for admin approval ({approval} user)")
            return
        user = self.directory.user(object_id)
        assert user is not None
        if intent == "create":
            self._create(object_id, user, report)
        elif intent == "update":
            self._update(object_id, user, report)
        elif intent == "suspend":
            self._suspend(object_id, user, report, "suspend")
        elif self.settings["deprovision_action"] == "suspend":
            self._suspend(object_id, user, report, "deprovision")
        else:
            self._delete(object_id, report)

    def _unlink(self, object_id: str) -> None:
        """App access is gone: OneLogin stops managing the user; a new access looks it up and links again."""
        del self.links[object_id]
        self.memberships.pop(object_id, None)

    # -- users --------------------------------------------------------------------------------------------------
    def user_body(self, user: DirectoryUser, active: bool | None = None) -> dict:
        """The template rendered for one user; `active` overrides the template's value (OneLogin's Suspend)."""
        body = self.template.render(self.vocabulary.values(user, self.directory))
        if active is not None:
            key = next((k for k in body if k.lower() == "active"), "active")
            body[key] = active
        return body

    def _create(self, object_id: str, user: DirectoryUser, report: CycleReport) -> None:
        body = self.user_body(user)
        user_name = get_ci(body, "userName") or ""
        lookup = self.client.get("/Users", params={"filter": f'userName eq "{user_name}"'}, subject=object_id,
                                 purpose="match")
        if not self._succeeded(lookup, object_id, "match", report):
            return
        found = lookup.response_body.get("Resources") or [] \
            if lookup.status == 200 and isinstance(lookup.response_body, dict) else []
        if len(found) > 1:
            self._fail(report, object_id, "match", "HTTP 200", f"{len(found)} users have userName {user_name}",
                       lookup)
            return
        if found:
            if not isinstance(found[0], dict) or not found[0].get("id"):
                self._fail(report, object_id, "match", "HTTP 200", "the matching user has no id", lookup)
                return
            self.links[object_id] = found[0]["id"]
            report.matched.append(object_id)
            self._update(object_id, user, report)
            return
        exchange = self.client.post("/Users", body, subject=object_id, purpose="create")
        if not self._succeeded(exchange, object_id, "create", report):
            return
        created = exchange.response_body
        if not isinstance(created, dict) or not created.get("id"):
            self._fail(report, object_id, "create", f"HTTP {exchange.status}", "the response carries no user id",
                       exchange)
            return
        self.links[object_id] = created["id"]
        report.created.append(object_id)
        if self._sync_groups(object_id, user, report):
            self._set_state(object_id, "Provisioned", "create")

    def _update(self, object_id: str, user: DirectoryUser, report: CycleReport) -> None:
        """Any change to the user (a role included) is an update task: the full template goes out again."""
        if not self._write_user(object_id, self.user_body(user), "update", report):
            return
        report.updated.append(object_id)
        if self._sync_groups(object_id, user, report):
            self._set_state(object_id, "Provisioned", "update")

    def _write_user(self, object_id: str, body: dict, action: str, report: CycleReport) -> bool:
        """PUT the full rendered template without an id, or (update_verb PATCH) one replace of its values."""
        path = f"/Users/{self.links[object_id]}"
        if self.settings["update_verb"] == "PUT":
            exchange = self.client.put(path, body, subject=object_id, purpose=action)
        else:
            values = {k: v for k, v in body.items() if k.lower() != "schemas"}
            exchange = self.client.patch(path, {"schemas": [PATCH_OP],
                                                "Operations": [{"op": "replace", "value": values}]},
                                         subject=object_id, purpose=action)
        return self._succeeded(exchange, object_id, action, report)

    def _suspend(self, object_id: str, user: DirectoryUser, report: CycleReport, action: str) -> None:
        """Remove from its groups, then update with active false [LINKYARD]; a suspended user is still linked."""
        if not self._leave_groups(object_id, report, action):
            return
        if not self._write_user(object_id, self.user_body(user, active=False), action, report):
            return
        report.disabled.append(object_id)
        self._set_state(object_id, "Suspended", action)
        if action == "deprovision":
            self._unlink(object_id)

    def _delete(self, object_id: str, report: CycleReport) -> None:
        if not self._leave_groups(object_id, report, "delete"):
            return
        exchange = self.client.delete(f"/Users/{self.links[object_id]}", subject=object_id, purpose="delete")
        if self._succeeded(exchange, object_id, "delete", report):
            self._unlink(object_id)
            report.deleted.append(object_id)
            self._set_state(object_id, "Deleted", "delete")

    # -- groups -------------------------------------------------------------------------------------------------
    def wanted_groups(self, user: DirectoryUser) -> list[str]:
        if not self.settings["groups_include_in_provisioning"]:
            return []
        return group_values(user.roles, self.rules, self.settings["groups_multi_value"])

    def _sync_groups(self, object_id: str, user: DirectoryUser, report: CycleReport) -> bool:
        """After the user call: list groups, POST the missing ones, then one PATCH add per group [LINKYARD];
        PATCH remove for groups that no longer apply."""
        wanted = self.wanted_groups(user)
        current = self.memberships.get(object_id, [])
        to_add = [g for g in wanted if g not in current]
        if to_add:
            if self._list_groups(object_id, report) is None:
                return False
            missing = [name for name in to_add if name not in self.group_ids]
            if not all(self._create_group(object_id, name, report) for name in missing):
                return False
            if not all(self._member(object_id, name, "add", report) for name in to_add):
                return False
        return all(self._member(object_id, name, "remove", report) for name in current if name not in wanted)

    def _leave_groups(self, object_id: str, report: CycleReport, action: str) -> bool:
        return all(self._member(object_id, name, "remove", report, action)
                   for name in list(self.memberships.get(object_id, [])))

    def _list_groups(self, object_id: str | None, report: CycleReport, purpose: str = "list-groups"
                     ) -> dict[str, str] | None:
        """GET /Groups?count=100&startIndex=1, then the next pages until totalResults; names -> ids."""
        found: dict[str, str] = {}
        start = 1
        while True:
            exchange = self.client.get("/Groups", params={"count": str(PAGE_SIZE), "startIndex": str(start)},
                                       subject=object_id, purpose=purpose)
            if not self._succeeded(exchange, object_id, purpose, report):
                return None
            body = exchange.response_body if isinstance(exchange.response_body, dict) else {}
            page = [g for g in body.get("Resources") or [] if isinstance(g, dict)]
            found.update({g["displayName"]: g["id"] for g in page if g.get("displayName") and g.get("id")})
            start += len(page)
            if not page or start > int(body.get("totalResults") or 0):
                break
        self.group_ids.update(found)
        return found

    def _create_group(self, object_id: str, name: str, report: CycleReport) -> bool:
        exchange = self.client.post("/Groups", create_group_body(name), subject=object_id, purpose="create-group")
        if not self._succeeded(exchange, object_id, "create-group", report):
            return False
        group = exchange.response_body
        if not isinstance(group, dict) or not group.get("id"):
            self._fail(report, object_id, "create-group", f"HTTP {exchange.status}",
                       f"the response to creating group {name!r} carries no id", exchange)
            return False
        self.group_ids[name] = group["id"]
        self.pushed_groups.add(name)
        return True

    def _member(self, object_id: str, name: str, op: str, report: CycleReport, action: str | None = None) -> bool:
        exchange = self.client.patch(f"/Groups/{self.group_ids[name]}", membership_patch(op, self.links[object_id]),
                                     subject=object_id, purpose=f"group-{op}")
        if not self._succeeded(exchange, object_id, action or f"group-{op}", report):
            return False
        members = self.memberships.setdefault(object_id, [])
        if op == "add":
            members.append(name)
            self.pushed_groups.add(name)
        else:
            members.remove(name)
        return True

    # -- responses ----------------------------------------------------------------------------------------------
    def handle_response(self, exchange: Exchange, action: str) -> Reaction:
        """A 2xx succeeds (a 404 to a lookup means "no such user"); anything else fails the task with its reason.
        OneLogin's retry policy is unpublished: a failed task stays Failed until the user changes again."""
        status = exchange.status
        if status == 404 and action == "match":
            return Reaction()
        if status is not None and 200 <= status < 300:
            content_type = (exchange.response_content_type or "").split(";")[0].strip().lower()
            if self.settings["strict_content_type"] and exchange.response_body is not None \
                    and content_type != "application/json":
                return Reaction(f"HTTP {status}", f"response Content-Type is {content_type or 'missing'}; "
                                                  "OneLogin expects application/json")
            return Reaction()
        body = exchange.response_body
        detail = body.get("detail") if isinstance(body, dict) else (body if isinstance(body, str) else None)
        return Reaction(f"HTTP {status}", f"{exchange.method} answered {status}" + (f": {detail}" if detail else ""))

    def _succeeded(self, exchange: Exchange, object_id: str | None, action: str, report: CycleReport) -> bool:
        reaction = self.handle_response(exchange, action)
        if reaction.ok:
            return True
        self._fail(report, object_id, action, reaction.error_code or "", reaction.message, exchange)
        return False

    def _fail(self, report: CycleReport, object_id: str | None, action: str, code: str, message: str,
              exchange: Exchange) -> None:
        user = self.directory.user(object_id) if object_id else None
        label = user.user_principal_name if user else (object_id or "app")
        report.failures.append(ProvisioningFailure(object_id or "", label, action, code, message, exchange))
        if object_id:
            self._set_state(object_id, "Failed", action, message)

    # -- OneLogin's view ----------------------------------------------------------------------------------------
    def _set_state(self, object_id: str, status: str, action: str, reason: str = "") -> None:
        user = self.directory.user(object_id)
        self.states[object_id] = AdminViewRow(user.user_principal_name if user else object_id, object_id, status,
                                              action, reason, tuple(self.memberships.get(object_id, [])))

    def configuration_warnings(self) -> list[str]:
        """Settings that make OneLogin send something other than what the admin most likely meant."""
        warnings = []
        if self.rules and not self.settings["groups_include_in_provisioning"]:
            warnings.append("group rules are set but the Groups parameter is not included in user provisioning: "
                            "no group is sent")
        several = [group_values(u.roles, self.rules, multi_value=True) for u in self.directory.users.values()]
        joined = sorted({JOINED_SEPARATOR.join(values) for values in several if len(values) > 1})
        if not self.settings["groups_multi_value"] and self.settings["groups_include_in_provisioning"] and joined:
            warnings.append("the Groups parameter is not multi-value: users with several groups get one group "
                            f"named by the values joined with {JOINED_SEPARATOR!r} (here: "
                            f"{', '.join(repr(g) for g in joined)})")
        return warnings

    def own_view(self) -> tuple[list[str], list[dict]]:
        rows = self.admin_view()
        counts: dict[str, int] = {}
        for row in rows:
            counts[row.status] = counts.get(row.status, 0) + 1
        lines = ["OneLogin Users tab: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "empty")]
        lines += [f"  {row.describe()}" for row in rows if row.status in ("Failed", "Pending")]
        return lines, [asdict(row) for row in rows]

    def admin_view(self) -> list[AdminViewRow]:
        """The app's Users tab: every user OneLogin has tried to provision, with its state, sorted by name."""
        return sorted(self.states.values(), key=lambda row: row.label.lower())

    # -- expected end state -------------------------------------------------------------------------------------
    def expected_users(self) -> list[ExpectedUser]:
        expected = []
        for object_id, user, presence in self._promises():
            body = self.user_body(user)
            attributes = {"present": expected_attributes(body), "inactive": {"active": False}}.get(presence, {})
            expected.append(ExpectedUser(object_id, user.user_principal_name, presence, "userName",
                                         get_ci(body, "userName") or "", attributes))
        return expected

    def _promises(self) -> list[tuple[str, DirectoryUser, str]]:
        """(object id, user, presence) for every directory user whose end state the configuration promises."""
        promises = []
        for object_id in [*self.directory.users, *self.directory.deleted_users]:
            user = self.directory.user(object_id)
            assert user is not None
            presence = self._expected_presence(object_id, user)
            if presence is not None:
                promises.append((object_id, user, presence))
        return promises

    def _expected_presence(self, object_id: str, user: DirectoryUser) -> str | None:
        """None: nothing is promised (pending updates or deletions, Do nothing after losing access)."""
        task = self.pending.get(object_id)
        if task is not None:
            return "absent" if task.intent == "create" else None
        live = object_id in self.directory.users and self.directory.in_scope(object_id)
        if not live:
            return {"delete": "absent", "suspend": "inactive", "nothing": None}[self.settings["deprovision_action"]]
        if not user.account_enabled:
            return "inactive" if self.settings["suspended_action"] == "suspend" else "present"
        return "present"

    def expected_groups(self) -> list[ExpectedGroup]:
        """Each group the rules produce or that was ever pushed (OneLogin never deletes groups), with the users
        that must be in it; users whose state nothing promises are not judged."""
        if not self.settings["groups_include_in_provisioning"]:
            return []
        members: dict[str, set[str]] = {name: set() for name in self.pushed_groups}
        judged: set[str] = set()
        for object_id, user, presence in self._promises():
            judged.add(object_id)
            if presence == "present":              # live, in scope, and active or left alone while suspended
                for name in self.wanted_groups(user):
                    members.setdefault(name, set()).add(object_id)
        return [ExpectedGroup(name, name, "present", "displayName", name, {"displayName": name}, frozenset(ids),
                              frozenset(judged)) for name, ids in sorted(members.items())]


def expected_attributes(body: dict) -> dict[str, Any]:
    """The attribute paths a rendered body sets, as the verifier compares them: empty values left out, an
    `emails` object read as the one-element array a SCIM 2.0 server stores, "true"/"false" active as booleans."""
    values: dict[str, Any] = {}
    for key, value in body.items():
        lowered = key.lower()
        if lowered in ("schemas", "id", "meta") or value in ("", None):
            continue
        if lowered == "emails":
            for email in [value] if isinstance(value, dict) else value if isinstance(value, list) else []:
                if isinstance(email, dict) and email.get("type") and email.get("value"):
                    values[f'emails[type eq "{email["type"]}"].value'] = email["value"]
        elif isinstance(value, dict):
            extension = lowered.startswith("urn:")
            prefix = f"{key}:" if extension else f"{key}."
            for sub, sub_value in value.items():
                if isinstance(sub_value, dict) and extension:
                    values.update({f"{prefix}{sub}.{leaf}": v for leaf, v in sub_value.items()
                                   if v not in ("", None) and not isinstance(v, (dict, list))})
                elif sub_value not in ("", None) and not isinstance(sub_value, (dict, list)):
                    values[f"{prefix}{sub}"] = sub_value
        elif not isinstance(value, list):
            values[key] = value.lower() == "true" if lowered == "active" and isinstance(value, str) else value
    return values
