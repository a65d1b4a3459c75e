"""Microsoft Entra ID's provisioning job (`scim` template, no aadOptscim062020 flag), users only for now.
Reproduces its wire traffic: random-GUID probe, match by userName, create/PATCH/disable/DELETE, Entra's error codes."""
from __future__ import annotations

import random
import uuid
from http import HTTPStatus
from typing import Any, Callable, Iterable

from harness.attribute_paths import read_path
from harness.directory import Directory, DirectoryUser
from harness.transport import Exchange, ScimClient
from idp_profiles.base import (CycleReport, ExpectedUser, IdpProfile, ProbeResult, ProvisioningFailure,
                               Reaction)

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
# Non-gallery apps report errors with this prefix (gallery apps use the app's name, e.g. ContosoEntryConflict).
PREFIX = "SystemForCrossDomainIdentityManagement"

# Entra's default attribute mappings for users (entra.md §3.3), in the order the portal lists them:
# SCIM attribute path <- Entra source expression. None (empty source) is never sent.
DEFAULT_USER_MAPPINGS: tuple[tuple[str, Callable[[DirectoryUser], Any]], ...] = (
    ("userName", lambda u: u.user_principal_name),
    ("active", lambda u: True),            # Switch([IsSoftDeleted], , "False", "True", "True", "False")
    ("displayName", lambda u: u.display_name),
    ("title", lambda u: u.job_title),
    ('emails[type eq "work"].value', lambda u: u.mail),
    ("name.givenName", lambda u: u.given_name),
    ("name.familyName", lambda u: u.surname),
    ("name.formatted", lambda u: " ".join(p for p in (u.given_name, u.surname) if p) or None),  # Join(" ", …)
    ("externalId", lambda u: u.mail_nickname),
    (f"{ENTERPRISE_USER}:employeeNumber", lambda u: u.employee_id),
    (f"{ENTERPRISE_USER}:department", lambda u: u.department),
)
MATCHING_ATTRIBUTE = ("userName", lambda u: u.user_principal_name)   # matching precedence 1

_ERROR_CODES = {400: f"{PREFIX}ServiceIncompatible", 401: "Unauthorized", 403: "InsufficientRights",
                404: "InvalidAnchor", 405: "MethodNotAllowed", 409: f"{PREFIX}EntryConflict",
                422: "UnprocessableEntity", 429: "TooManyRequests", 500: "InternalServerError",
                501: "NotImplemented"}


def entra_string_boolean(value: bool) -> str:
    """Without the flag, Entra sends booleans in PATCH as the strings "True"/"False"."""
    return "True" if value else "False"


class EntraProfile(IdpProfile):
    name = "entra"
    title = "Microsoft Entra ID"
    known_flags = frozenset()            # aadOptscim062020 arrives with its own issue
    client_options = {"user_agent": None}   # Entra's probe was observed without a User-Agent header

    def __init__(self, directory: Directory, client: ScimClient, flags: Iterable[str] = (),
                 rng: random.Random | None = None) -> None:
        super().__init__(directory, client, flags)
        self.rng = rng or random.Random()
        self.links: dict[str, str] = {}          # directory object id -> target id (Entra's cached id)
        self.unmanaged: set[str] = set()         # unassigned and disabled: Entra no longer touches them
        self.escrow: set[str] = set()            # objects whose last operation failed; retried next cycle
        self.watermark: int | None = None        # None until the initial cycle has run
        self.quarantined: str | None = None

    # -- Test Connection ----------------------------------------------------------------------------------------
    def test_connection(self) -> ProbeResult:
        guid = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        exchange = self.client.get("/Users", params={"filter": f'userName eq "{guid}"'}, purpose="test-connection")
        status, body = exchange.status, exchange.response_body
        if status in (401, 403):
            return ProbeResult(False, "You appear to have entered invalid credentials. Please confirm you are "
                                      f"using the correct information for an administrative account. (HTTP {status})",
                               exchange, "Unauthorized" if status == 401 else "InsufficientRights",
                               credentials_rejected=True)
        if status != 200:
            phrase = next((s.phrase for s in HTTPStatus if s.value == status), "")
            message = (f"An HTTP/{status} {phrase} response was returned rather than the expected HTTP/200 OK "
                       "response. To address this issue, ensure that the tenant URL is correct. The tenant URL is "
                       "usually in a format like: https://<>/scim")
            code = (f"{PREFIX}ServiceIncompatible" if status < 500
                    else _ERROR_CODES.get(status, "WebExceptionProtocolError"))
            return ProbeResult(False, message, exchange, code)
        if not isinstance(body, dict) or LIST_RESPONSE not in (body.get("schemas") or []):
            return ProbeResult(False, "The query for a user that does not exist did not return a SCIM ListResponse.",
                               exchange, f"{PREFIX}ServiceIncompatible")
        if body.get("totalResults") != 0 or body.get("Resources"):
            return ProbeResult(False, f"The query for a random GUID ({guid}) returned results; expected an empty "
                                      "ListResponse.", exchange, f"{PREFIX}MultipleEntriesInResponse")
        return ProbeResult(True, "The supplied credentials are authorized to enable provisioning.", exchange)

    # -- cycles -------------------------------------------------------------------------------------------------
    def run_cycle(self) -> CycleReport:
        report = CycleReport(kind="initial" if self.watermark is None else "incremental")
        self.cycles.append(report)
        report.probe = self.test_connection()        # every run starts with the probe (entra.md §1.3)
        if not report.probe.ok:
            self.quarantined = report.probe.message
            report.aborted = f"quarantined: {report.probe.error_code}: {report.probe.message}"
            return report
        self.quarantined = None
        if report.kind == "initial":
            candidates = list(self.directory.users)
        else:
            candidates = []
            for event in self.directory.events_since(self.watermark or 0):
                candidates += self.directory.user_ids_affected_by(event)
            candidates += sorted(self.escrow)
        self.watermark = self.directory.watermark
        seen: set[str] = set()
        for object_id in candidates:
            if object_id in seen or object_id in self.unmanaged:
                continue
            seen.add(object_id)
            self.escrow.discard(object_id)
            self._sync_user(object_id, report)
        return report

    def _sync_user(self, object_id: str, report: CycleReport) -> None:
        if object_id in self.directory.deleted_users:
            if object_id in self.links:                               # hard delete -> DELETE
                exchange = self.client.delete(f"/Users/{self.links[object_id]}", subject=object_id, purpose="delete")
                if self._succeeded(exchange, object_id, "delete", report):
                    report.deleted.append(object_id)
                    del self.links[object_id]
            return
        user = self.directory.users[object_id]
        in_scope = self.directory.in_scope(object_id)
        if not (in_scope and user.account_enabled):
            if object_id not in self.links:
                report.skipped.append(object_id)                      # never provisioned: stays that way
                return
            self._disable(object_id, report)
            if not in_scope:
                self.unmanaged.add(object_id)                         # unassigned: no longer managed
                del self.links[object_id]
            return
        if object_id in self.links:
            exchange = self.client.get(f"/Users/{self.links[object_id]}", subject=object_id, purpose="read")
            if not self._succeeded(exchange, object_id, "read", report):
                return
            self._update(object_id, user, exchange.response_body, report)
            return
        self._match_or_create(object_id, user, report)

    def _match_or_create(self, object_id: str, user: DirectoryUser, report: CycleReport) -> None:
        attribute, source = MATCHING_ATTRIBUTE
        exchange = self.client.get("/Users", params={"filter": f'{attribute} eq "{source(user)}"'},
                                   subject=object_id, purpose="match")
        if not self._succeeded(exchange, object_id, "match", report):
            return
        resources = (exchange.response_body or {}).get("Resources") or [] \
            if isinstance(exchange.response_body, dict) else []
        if len(resources) > 1:
            self._fail(report, object_id, "match", f"{PREFIX}MultipleEntriesInResponse",
                       f"{len(resources)} target users match {attribute} eq \"{source(user)}\"", exchange)
            return
        if resources:
            target = resources[0]
            if not isinstance(target, dict) or not target.get("id"):
                self._fail(report, object_id, "match", f"{PREFIX}ServiceIncompatible",
                           "the matching user has no id", exchange)
                return
            self.links[object_id] = target["id"]
            report.matched.append(object_id)
            self._update(object_id, user, target, report)
            return
        exchange = self.client.post("/Users", self.create_body(user), subject=object_id, purpose="create")
        if not self._succeeded(exchange, object_id, "create", report):
            return                                  # 409 stays a failure: Entra does not fall back to matching
        body = exchange.response_body
        if not isinstance(body, dict) or not body.get("id"):
            self._fail(report, object_id, "create", f"{PREFIX}ServiceIncompatible",
                       "We are not able to deserialize the resource received from your SCIM endpoint: no id",
                       exchange)
            return
        self.links[object_id] = body["id"]
        report.created.append(object_id)

    def _update(self, object_id: str, user: DirectoryUser, target: Any, report: CycleReport) -> None:
        operations = self.patch_operations(user, target if isinstance(target, dict) else {})
        if not operations:
            return
        exchange = self.client.patch(f"/Users/{self.links[object_id]}",
                                     {"schemas": [PATCH_OP], "Operations": operations},
                                     subject=object_id, purpose="update")
        if self._succeeded(exchange, object_id, "update", report):
            report.updated.append(object_id)

    def _disable(self, object_id: str, report: CycleReport) -> None:
        exchange = self.client.get(f"/Users/{self.links[object_id]}", subject=object_id, purpose="read")
        if not self._succeeded(exchange, object_id, "read", report):
            return
        current = read_path(exchange.response_body, "active") if isinstance(exchange.response_body, dict) else None
        if current is False:
            return                                  # already inactive: nothing to send
        exchange = self.client.patch(
            f"/Users/{self.links[object_id]}",
            {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]},
            subject=object_id, purpose="disable")
        if self._succeeded(exchange, object_id, "disable", report):
            report.disabled.append(object_id)

    # -- request bodies -----------------------------------------------------------------------------------------
    @staticmethod
    def mapped_values(user: DirectoryUser) -> dict[str, Any]:
        """SCIM path -> value under the default mappings, null sources left out (Entra never sends nulls)."""
        values = {path: source(user) for path, source in DEFAULT_USER_MAPPINGS}
        return {path: value for path, value in values.items() if value is not None}

    def create_body(self, user: DirectoryUser) -> dict:
        """POST /Users body in the shape of entra.md §3.3."""
        v = self.mapped_values(user)
        body: dict[str, Any] = {"schemas": [CORE_USER, ENTERPRISE_USER]}
        for key in ("externalId", "userName"):
            if key in v:
                body[key] = v[key]
        body["active"] = True                      # a JSON boolean on create; disabled users are never created
        for key in ("displayName", "title"):
            if key in v:
                body[key] = v[key]
        if 'emails[type eq "work"].value' in v:
            body["emails"] = [{"primary": True, "type": "work", "value": v['emails[type eq "work"].value']}]
        body["meta"] = {"resourceType": "User"}
        name = {sub: v[f"name.{sub}"] for sub in ("formatted", "familyName", "givenName") if f"name.{sub}" in v}
        if name:
            body["name"] = name
        enterprise = {path.rpartition(":")[2]: value for path, value in v.items() if path.startswith(ENTERPRISE_USER)}
        if enterprise:
            body[ENTERPRISE_USER] = enterprise
        body["roles"] = []
        return body

    def patch_operations(self, user: DirectoryUser, target: dict) -> list[dict]:
        """Default (no flag) PATCH: one capitalised op per attribute that differs from what the target returned,
        each with a path; `Replace` when the target has a value, `Add` when it has none; booleans as strings."""
        operations = []
        for path, expected in self.mapped_values(user).items():
            actual = read_path(target, path)
            if actual == expected and type(actual) is type(expected):
                continue
            value = entra_string_boolean(expected) if isinstance(expected, bool) else expected
            operations.append({"op": "Replace" if actual not in (None, "", []) else "Add", "path": path,
                               "value": value})
        return operations

    # -- reacting to responses ----------------------------------------------------------------------------------
    def handle_response(self, exchange: Exchange, action: str) -> Reaction:
        status = exchange.status
        if status is not None and 200 <= status < 300:
            if action in ("match", "read") and not isinstance(exchange.response_body, dict):
                return Reaction(f"{PREFIX}ServiceIncompatible", "We are not able to deserialize the resource "
                                "received from your SCIM endpoint.", escrow=True)
            return Reaction()
        if status is None:
            return Reaction("Timeout", exchange.error or "no response", escrow=True)
        code = _ERROR_CODES.get(status, "WebExceptionProtocolError" if status >= 500 else
                                f"{PREFIX}ServiceIncompatible")
        if status == 404 and action == "match":
            code = f"{PREFIX}ServiceIncompatible"     # a query must answer 200 + ListResponse, never 404
        detail = exchange.response_body.get("detail") if isinstance(exchange.response_body, dict) else None
        message = f"StatusCode: {status}" + (f". Web Response: {detail}" if detail else "")
        if status == 404 and action in ("read", "update", "disable", "delete"):
            message = ("The previously created or matched user no longer exists in the target "
                       f"(HTTP 404). {message}")
        return Reaction(code, message, escrow=True, quarantine=status in (401, 403))

    def _succeeded(self, exchange: Exchange, object_id: str, action: str, report: CycleReport) -> bool:
        reaction = self.handle_response(exchange, action)
        if reaction.ok:
            return True
        self._fail(report, object_id, action, reaction.error_code or "", reaction.message, exchange)
        if reaction.quarantine:
            self.quarantined = reaction.message
        return False

    def _fail(self, report: CycleReport, object_id: str, action: str, code: str, message: str,
              exchange: Exchange) -> None:
        user = self.directory.user(object_id)
        report.failures.append(ProvisioningFailure(object_id, user.user_principal_name if user else object_id,
                                                   action, code, message, exchange))
        self.escrow.add(object_id)

    # -- expected end state -------------------------------------------------------------------------------------
    def expected_users(self) -> list[ExpectedUser]:
        expected = []
        attribute, source = MATCHING_ATTRIBUTE
        for object_id, user in self.directory.deleted_users.items():
            expected.append(ExpectedUser(object_id, user.user_principal_name, "absent", attribute, source(user)))
        for object_id, user in self.directory.users.items():
            if self.directory.in_scope(object_id) and user.account_enabled:
                values = self.mapped_values(user)
                if "emails[type eq \"work\"].value" in values:
                    values['emails[type eq "work"].primary'] = True     # the create body marks it primary
                expected.append(ExpectedUser(object_id, user.user_principal_name, "present", attribute,
                                             source(user), values))
            else:
                expected.append(ExpectedUser(object_id, user.user_principal_name, "inactive", attribute,
                                             source(user), {"active": False}))
        return expected
