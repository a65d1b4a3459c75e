"""Microsoft Entra ID's provisioning job (`scim` template), with or without aadOptscim062020: the probe, initial and
incremental cycles over users, groups, memberships and managers, and the job's reactions, on the profile's clock."""
from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any, Mapping

from harness.clock import Clock
from harness.directory import Directory, DirectoryGroup, DirectoryUser
from harness.transport import Exchange, ScimClient
from idp_profiles.base import (Cadence, CycleReport, ExpectedUser, IdpProfile, ProbeResult,
                               ProvisioningFailure, Reaction)
from idp_profiles.entra import reactions, shapes
from idp_profiles.entra.cycle import CycleState, read_value, resources
from idp_profiles.entra.groups import GroupProvisioning
from idp_profiles.entra.provisioning_log import ChangeRecord, ProvisioningLog
from idp_profiles.entra.reactions import Escrow, Quarantine, iso
from idp_profiles.entra.settings import (DEFAULT_SETTINGS, MANAGER_PATH, USER_SOURCES, flag_enabled,
                                         split_tenant_url, user_mappings, validate)

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
INVALID_CREDENTIALS = ("You appear to have entered invalid credentials. Please confirm you are using the correct "
                       "information for an administrative account.")


class EntraProfile(GroupProvisioning, IdpProfile):
    name = "entra"
    title = "Microsoft Entra ID"
    cadence = Cadence(interval=timedelta(minutes=40))  # "The process runs every 40 minutes" (entra.md §2.3)
    client_options = {"user_agent": None}   # Entra's probe was observed without a User-Agent header
    default_settings = DEFAULT_SETTINGS

    def __init__(self, directory: Directory, client: ScimClient, settings: Mapping[str, Any] | None = None,
                 clock: Clock | None = None, rng: random.Random | None = None) -> None:
        super().__init__(directory, client, settings, clock)
        client.base_url, self.tenant_url_flags = split_tenant_url(client.base_url)
        self.flag = flag_enabled(self.settings["aadOptscim062020"], self.tenant_url_flags)
        self.user_mappings = user_mappings(self.settings["user_mappings"])
        validate(self.settings, self.user_mappings)
        self.rng = rng or random.Random()
        self.links: dict[str, str] = {}          # directory user id -> target id (Entra's cached id)
        self.group_links: dict[str, str] = {}    # directory group id -> target id
        self.pushed_members: dict[str, dict[str, str]] = {}   # group id -> {member id: member target id}
        self.disabled_in_target: set[str] = set()
        self.unmanaged: set[str] = set()         # unassigned and disabled: Entra no longer touches them
        self.escrow = Escrow(self.settings["escrow_first_retry_minutes"], self.settings["escrow_max_retry_minutes"])
        self.watermark: int | None = None        # None until the initial cycle has run
        self.quarantine: Quarantine | None = None
        self.job_disabled = False
        self.deletes_allowed = False             # the admin clicked "Allow deletes" for the staged cycle
        self.log = ProvisioningLog("scimharness", self.rng.getrandbits(32))
        self.executions: list[dict] = []

    @property
    def quarantined(self) -> str | None:
        return self.quarantine.message if self.quarantine else None

    # -- Test Connection ----------------------------------------------------------------------------------------
    def test_connection(self) -> ProbeResult:
        """The random-GUID query on the first matching attribute, then (with group provisioning) the group one."""
        guid = self._guid()
        attribute = self.settings["matching_attributes"][0]
        result = self._probe("/Users", {"filter": f'{attribute} eq "{guid}"'}, guid, "user")
        if result.ok and self.settings["provision_groups"] and self.settings["group_probe"]:
            guid = self._guid()     # [unconfirmed] shape: the documented group query with a random GUID
            result = self._probe("/Groups", {"excludedAttributes": "members", "filter": f'displayName eq "{guid}"'},
                                 guid, "group")
        return result

    def _guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _probe(self, path: str, params: dict[str, str], guid: str, kind: str) -> ProbeResult:
        exchange = self.client.get(path, params=params, purpose="test-connection")
        status, body = exchange.status, exchange.response_body
        if status in (401, 403) or (status == 501 and kind == "group"):   # 501: community S41
            code = {401: "Unauthorized", 403: "InsufficientRights"}.get(status, "NotImplemented")
            return ProbeResult(False, f"{INVALID_CREDENTIALS} (HTTP {status})", exchange, code,
                               credentials_rejected=status != 501)
        if status != 200:
            phrase = next((s.phrase for s in HTTPStatus if s.value == status), "")
            message = (f"An HTTP/{status} {phrase} response was returned rather than the expected HTTP/200 OK "
                       "response. To address this issue, ensure that the tenant URL is correct. The tenant URL is "
                       "usually in a format like: https://<>/scim")
            code = (reactions.SERVICE_INCOMPATIBLE if status < 500
                    else reactions.ERROR_CODES.get(status, "WebExceptionProtocolError"))
            return ProbeResult(False, message, exchange, code)
        if not isinstance(body, dict) or LIST_RESPONSE not in (body.get("schemas") or []):
            return ProbeResult(False, f"The query for a {kind} that does not exist did not return a SCIM "
                                      "ListResponse.", exchange, reactions.SERVICE_INCOMPATIBLE)
        if body.get("totalResults") != 0 or body.get("Resources"):
            return ProbeResult(False, f"The query for a random GUID ({guid}) returned results; expected an empty "
                                      "ListResponse.", exchange, reactions.MULTIPLE_ENTRIES)
        return ProbeResult(True, "The supplied credentials are authorized to enable provisioning.", exchange)

    # -- cycles -------------------------------------------------------------------------------------------------
    def run_cycle(self) -> CycleReport:
        now = self.clock.now()
        report = CycleReport(kind="initial" if self.watermark is None else "incremental")
        self.cycles.append(report)
        waiting = self._waiting(now)
        if waiting:
            report.aborted = waiting
            return report
        retention = timedelta(days=self.settings["soft_delete_retention_days"])
        self.directory.purge_soft_deleted(now - retention)
        report.probe = self.test_connection()        # every run starts with the probe (entra.md §1.3)
        if not report.probe.ok:
            self._quarantine(reactions.CREDENTIALS, report.probe.error_code, report.probe.message, now)
            report.aborted = f"quarantined: {report.probe.error_code}: {report.probe.message}"
            return report
        cycle = CycleState(report, str(uuid.UUID(int=self.rng.getrandbits(128), version=4)), now)
        user_ids, group_ids = self._candidates(report.kind, now)
        if self._stage_deletes(cycle, user_ids, group_ids):
            return report
        self.watermark = self.directory.watermark
        for object_id in user_ids:
            if not cycle.stopped:
                self._sync_user(object_id, cycle)
        if self.settings["provision_groups"]:
            for group_id in group_ids:
                if not cycle.stopped:
                    self._sync_group(group_id, cycle)
            self._sync_memberships(cycle)
        self._sync_managers(cycle)
        self._conclude(cycle)
        return report

    def _waiting(self, now: datetime) -> str | None:
        """Why this scheduled run sends nothing: a disabled job, or a quarantine whose next attempt is later."""
        if self.job_disabled:
            return "job disabled after 4 weeks in quarantine"
        if self.quarantine is None:
            return None
        if self.quarantine.next_attempt is None:
            return f"quarantined ({self.quarantine.reason}): waiting for the admin"
        if now < self.quarantine.next_attempt:
            return f"quarantined ({self.quarantine.reason}): next attempt {iso(self.quarantine.next_attempt)}"
        return None

    def _candidates(self, kind: str, now: datetime) -> tuple[list[str], list[str]]:
        """Users and groups this cycle looks at: everything on the initial cycle; afterwards what changed since the
        watermark plus escrowed objects whose retry is due."""
        if kind == "initial":
            return list(self.directory.users), list(self.directory.groups)
        users: list[str] = []
        groups: list[str] = []
        for event in self.directory.events_since(self.watermark or 0):
            users += self.directory.user_ids_affected_by(event)
            if event.object_type == "group":
                groups.append(event.object_id)
            if event.kind == "assigned":
                self.unmanaged.discard(event.object_id)     # reassigned: matched again like a new user
        users += self.escrow.due(now, "user")
        groups += self.escrow.due(now, "group")
        return ([u for u in dict.fromkeys(users) if u not in self.unmanaged], list(dict.fromkeys(groups)))

    # -- scope --------------------------------------------------------------------------------------------------
    def user_in_scope(self, object_id: str) -> bool:
        if self.settings["scope"] == "all":
            return object_id in self.directory.users
        return self.directory.in_scope(object_id)

    def _provisionable(self, user: DirectoryUser) -> bool:
        return self.user_in_scope(user.object_id) and user.account_enabled and user.soft_deleted_at is None

    # -- accidental deletions -----------------------------------------------------------------------------------
    def _stage_deletes(self, cycle: CycleState, user_ids: list[str], group_ids: list[str]) -> bool:
        """More disables+deletes than the threshold: log each as StagedDelete, quarantine TooManyDeletes and send
        nothing until the admin allows deletes (doc S7). The watermark stays, so nothing is lost."""
        staged = [(u, "User") for u in user_ids if u in self.links and self._would_deprovision(u)]
        staged += [(g, "Group") for g in group_ids if g in self.group_links and not self.group_in_scope(g)]
        allowed = self.deletes_allowed or not self.settings["accidental_deletions_prevention"]
        self.deletes_allowed = False
        if allowed or len(staged) <= self.settings["accidental_deletions_threshold"]:
            return False
        for object_id, identity_type in staged:
            record = self._begin(object_id, identity_type, "Delete", cycle)
            self.log.finish(record, cycle.cycle_id, "stageddelete", "skipped", self.clock.now(),
                            reactions.TOO_MANY_DELETES, "The number of deletions exceeded the accidental deletions "
                            f"threshold ({self.settings['accidental_deletions_threshold']}).")
        message = (f"{len(staged)} deletions exceed the accidental deletions threshold of "
                   f"{self.settings['accidental_deletions_threshold']}")
        self._quarantine(reactions.TOO_MANY_DELETES, reactions.TOO_MANY_DELETES, message, cycle.began)
        cycle.report.aborted = f"quarantined: {reactions.TOO_MANY_DELETES}: {message}"
        cycle.report.skipped += [object_id for object_id, _ in staged]
        return True

    def _would_deprovision(self, object_id: str) -> bool:
        user = self.directory.users.get(object_id)
        if user is None:
            return True                                        # hard-deleted: DELETE
        if not self.user_in_scope(object_id) and self.settings["skip_out_of_scope_deletions"]:
            return False
        return not self._provisionable(user) and object_id not in self.disabled_in_target

    def allow_deletes(self) -> None:
        """The admin's "Allow deletes": lifts TooManyDeletes; the next cycle sends the staged changes."""
        if self.quarantine and self.quarantine.reason == reactions.TOO_MANY_DELETES:
            self.quarantine = None
            self.deletes_allowed = True

    def restart(self) -> None:
        """"Restart provisioning": clears escrows, quarantine and the watermark; links are kept (doc S3, S4)."""
        self.escrow.clear()
        self.quarantine = None
        self.job_disabled = False
        self.watermark = None

    # -- users --------------------------------------------------------------------------------------------------
    def _sync_user(self, object_id: str, cycle: CycleState) -> None:
        user = self.directory.user(object_id)
        if user is None:
            return
        linked = object_id in self.links
        if object_id in self.directory.deleted_users:
            if linked:
                self._delete_user(object_id, user, cycle)
            return
        if not self._provisionable(user):
            if linked:
                self._deprovision(object_id, user, cycle)
            elif cycle.report.kind == "initial" or object_id in self.escrow:
                cycle.report.skipped.append(object_id)     # never provisioned: stays that way
                self.escrow.succeed(object_id)
            return
        cycle.objects += 1
        record = self._begin(object_id, "User", "Update" if linked else "Add", cycle, user)
        self._scoping_step(record, user)
        if linked:
            exchange = self.client.get(f"/Users/{self.links[object_id]}", subject=object_id, purpose="read")
            if not self._succeeded(exchange, record, "read", cycle):
                return
            record.step("matching", "EntryImport", "success",
                        f"Retrieved User '{self.links[object_id]}' from {self.log.app_name}", exchange.response_body)
            self._update_user(object_id, user, exchange.response_body, record, cycle)
        else:
            self._match_or_create(object_id, user, record, cycle)

    def _begin(self, object_id: str, identity_type: str, change_type: str, cycle: CycleState,
               source: DirectoryUser | DirectoryGroup | None = None) -> ChangeRecord:
        label = self._label(object_id)
        details = {}
        if isinstance(source, DirectoryUser):
            details = {"objectId": source.object_id, "accountEnabled": str(source.account_enabled),
                       "userPrincipalName": source.user_principal_name, "mailNickname": source.mail_nickname,
                       "IsSoftDeleted": str(source.soft_deleted_at is not None)}
        elif isinstance(source, DirectoryGroup):
            details = {"objectId": source.object_id, "displayName": source.display_name}
        record = self.log.begin(object_id, identity_type, label, change_type, self.clock.now(), details)
        record.target_id = self.links.get(object_id) or self.group_links.get(object_id, "")
        return record

    def _scoping_step(self, record: ChangeRecord, user: DirectoryUser) -> None:
        record.step("scoping", "EntrySynchronizationScoping", "success",
                    "Determine if User in scope by evaluating against each scoping filter",
                    {"Active in the source system": str(user.account_enabled and user.soft_deleted_at is None),
                     "Assigned to the application": str(self.user_in_scope(user.object_id)),
                     "Scoping filter evaluation passed": "True"})

    def _label(self, object_id: str) -> str:
        user = self.directory.user(object_id)
        if user:
            return user.user_principal_name
        group = self.directory.groups.get(object_id)
        return group.display_name if group else object_id

    def mapped_values(self, user: DirectoryUser) -> dict[str, Any]:
        """SCIM path -> value under the mappings, null sources left out (Entra never sends nulls), manager apart."""
        values = {path: USER_SOURCES[source](user) for path, source in self.user_mappings.items()
                  if path != MANAGER_PATH}
        return {path: value for path, value in values.items() if value is not None}

    def _match_or_create(self, object_id: str, user: DirectoryUser, record: ChangeRecord, cycle: CycleState) -> None:
        """One filtered GET per matching attribute in precedence order until one finds something (doc S5)."""
        values = self.mapped_values(user)
        for attribute in self.settings["matching_attributes"]:
            if attribute not in values:
                continue
            found = self._lookup("/Users", {"filter": f'{attribute} eq "{values[attribute]}"'}, record, cycle)
            if found is None:
                return
            if found:
                record.step("matching", "EntryImportByMatchingProperty", "success",
                            f"Retrieved User '{values[attribute]}' from {self.log.app_name} by {attribute}", found[0])
                self._link(object_id, found[0], record, cycle)
                return
        record.step("matching", "EntryImportByMatchingProperty", "success",
                    f"No User matched in {self.log.app_name}; it will be created", {})
        created = self._create("/Users", shapes.create_user_body(values), values, record, cycle)
        if created:                                 # a 409 stays a failure: Entra does not fall back to matching
            self.links[object_id] = record.target_id = created["id"]
            cycle.targets[object_id] = created
            self._succeed(record, "create", cycle)

    def _lookup(self, path: str, params: dict[str, str], record: ChangeRecord, cycle: CycleState) -> list | None:
        """A matching query; None when it failed or found more than one object (DuplicateTargetEntries)."""
        exchange = self.client.get(path, params=params, subject=record.object_id, purpose="match")
        if not self._succeeded(exchange, record, "match", cycle):
            return None
        found = resources(exchange)
        if len(found) > 1:
            self._fail(record, "match", reactions.DUPLICATE_TARGET_ENTRIES,
                       f"{len(found)} target objects match {params['filter']}", exchange, cycle)
            return None
        return found

    def _create(self, path: str, body: dict, values: dict[str, Any], record: ChangeRecord,
                cycle: CycleState) -> dict | None:
        """POST a new object; its answer (with the target's id), or None when the create failed."""
        exchange = self.client.post(path, body, subject=record.object_id, purpose="create")
        if not self._succeeded(exchange, record, "create", cycle):
            return None
        created = exchange.response_body
        if not isinstance(created, dict) or not created.get("id"):
            self._fail(record, "create", reactions.SERVICE_INCOMPATIBLE, "We are not able to deserialize the "
                       "resource received from your SCIM endpoint: no id", exchange, cycle)
            return None
        for attribute, value in values.items():
            record.modify(attribute, None, value)
        cycle.report.created.append(record.object_id)
        self._export_step(record, "Add", exchange)
        return created

    def _link(self, object_id: str, target: Any, record: ChangeRecord, cycle: CycleState) -> None:
        if not isinstance(target, dict) or not target.get("id"):
            self._fail(record, "match", reactions.SERVICE_INCOMPATIBLE, "the matching user has no id",
                       self.trace[-1], cycle)
            return
        self.links[object_id] = record.target_id = target["id"]
        cycle.report.matched.append(object_id)
        self._update_user(object_id, self.directory.users[object_id], target, record, cycle)

    def _update_user(self, object_id: str, user: DirectoryUser, target: dict, record: ChangeRecord,
                     cycle: CycleState) -> None:
        cycle.targets[object_id] = target
        changes = shapes.attribute_changes(self.mapped_values(user), target)
        if not changes:
            self._succeed(record, "other", cycle, status="skipped")
            return
        exchange = self.client.patch(f"/Users/{self.links[object_id]}",
                                     shapes.patch_body(shapes.update_operations(changes, self.flag)),
                                     subject=object_id, purpose="update")
        if not self._succeeded(exchange, record, "update", cycle):
            return
        for _, path, value in changes:
            record.modify(path, read_value(target, path), value)
        if any(path == "active" and value is True for _, path, value in changes):
            self.disabled_in_target.discard(object_id)
        cycle.report.updated.append(object_id)
        self._export_step(record, "Update", exchange)
        self._succeed(record, "update", cycle)

    def _deprovision(self, object_id: str, user: DirectoryUser, cycle: CycleState) -> None:
        """Unassigned, out of scope, disabled or soft-deleted: PATCH active false (doc S3). Out of scope also ends
        management: no DELETE is ever sent for that user later."""
        out_of_scope = not self.user_in_scope(object_id)
        if out_of_scope and self.settings["skip_out_of_scope_deletions"]:
            self._unmanage(object_id)
            return
        cycle.objects += 1
        record = self._begin(object_id, "User", "Update", cycle, user)
        self._scoping_step(record, user)
        exchange = self.client.get(f"/Users/{self.links[object_id]}", subject=object_id, purpose="read")
        if not self._succeeded(exchange, record, "read", cycle):
            return
        if read_value(exchange.response_body, "active") is not False:
            exchange = self.client.patch(f"/Users/{self.links[object_id]}",
                                         shapes.patch_body([shapes.active_operation(False, self.flag)]),
                                         subject=object_id, purpose="disable")
            if not self._succeeded(exchange, record, "disable", cycle):
                return
            record.modify("active", True, False)
            cycle.report.disabled.append(object_id)
            self._export_step(record, "Update", exchange)
        self.disabled_in_target.add(object_id)
        self._succeed(record, "disable", cycle)
        if out_of_scope:
            self._unmanage(object_id)

    def _unmanage(self, object_id: str) -> None:
        self.unmanaged.add(object_id)
        self.links.pop(object_id, None)
        self.disabled_in_target.discard(object_id)

    def _delete_user(self, object_id: str, user: DirectoryUser, cycle: CycleState) -> None:
        cycle.objects += 1
        record = self._begin(object_id, "User", "Delete", cycle, user)
        exchange = self.client.delete(f"/Users/{self.links[object_id]}", subject=object_id, purpose="delete")
        if not self._succeeded(exchange, record, "delete", cycle):
            return
        del self.links[object_id]
        self.disabled_in_target.discard(object_id)
        for members in self.pushed_members.values():
            members.pop(object_id, None)           # the target drops a deleted user from its groups itself
        cycle.report.deleted.append(object_id)
        self._export_step(record, "Delete", exchange)
        self._succeed(record, "delete", cycle)

    def _sync_managers(self, cycle: CycleState) -> None:
        """The separate manager PATCH, once both users are linked (entra.md §2.1 step 5). Diffed against the
        target as read this cycle: a target that does not return the manager gets it again each time."""
        if MANAGER_PATH not in self.user_mappings:
            return
        for object_id, target in cycle.targets.items():
            user = self.directory.users.get(object_id)
            if cycle.stopped or user is None or object_id not in self.links:
                continue
            wanted = self.links.get(user.manager_id) if user.manager_id else None
            current = shapes.current_manager(target)
            if (user.manager_id and wanted is None) or current == wanted:
                continue                           # manager not provisioned (yet): fixed only by a restart
            record = self._begin(object_id, "User", "Update", cycle, user)
            record.step("referenceResolution", "EntryReferenceResolution", "success",
                        f"Resolved manager of User '{record.target_id}' to '{wanted}'", {})
            body = shapes.patch_body([shapes.manager_operation(wanted, current, self.settings["manager_shape"],
                                                               self.flag)])
            exchange = self.client.patch(f"/Users/{self.links[object_id]}", body, subject=object_id,
                                         purpose="manager")
            if self._succeeded(exchange, record, "manager", cycle):
                record.modify("manager", current, wanted)
                self._export_step(record, "Update", exchange)
                self._succeed(record, "update", cycle)

    # -- reacting to responses ----------------------------------------------------------------------------------
    def handle_response(self, exchange: Exchange, action: str) -> Reaction:
        return reactions.classify(exchange, action)

    def _succeeded(self, exchange: Exchange, record: ChangeRecord, action: str, cycle: CycleState) -> bool:
        reaction = self.handle_response(exchange, action)
        if reaction.ok:
            return True
        self._fail(record, action, reaction.error_code or "", reaction.message, exchange, cycle)
        if reaction.quarantine:
            self._quarantine(reactions.CREDENTIALS, reaction.error_code, reaction.message, self.clock.now())
            cycle.stopped = True
        return False

    def _export_step(self, record: ChangeRecord, change_type: str, exchange: Exchange) -> None:
        record.step("export", f"EntryExport{change_type}", "success",
                    f"{exchange.method} {exchange.path} answered {exchange.status}", {"ReportableIdentifier":
                                                                                      record.label})

    def _succeed(self, record: ChangeRecord, action: str, cycle: CycleState, status: str = "success") -> None:
        self.escrow.succeed(record.object_id)
        self.log.finish(record, cycle.cycle_id, action, status, self.clock.now())

    def _fail(self, record: ChangeRecord, action: str, code: str, message: str, exchange: Exchange,
              cycle: CycleState) -> None:
        now = self.clock.now()
        entry = self.escrow.fail(record.object_id, record.identity_type.lower(), action, code, now)
        if not entry.is_reference:
            cycle.failures += 1
        cycle.report.failures.append(ProvisioningFailure(record.object_id, record.label, action, code, message,
                                                         exchange))
        record.step("export" if exchange.method != "GET" else "matching", f"EntryExport{record.change_type}",
                    "failure", f"{exchange.method} {exchange.path} answered {exchange.status}",
                    {"ReportableIdentifier": record.label})
        reason = (f"{message} This operation was retried {entry.attempts - 1} times. It will be retried again "
                  f"after this date: {iso(entry.next_retry)} UTC")
        log_action = {"create": "create", "delete": "delete", "disable": "disable"}.get(action, "update")
        self.log.finish(record, cycle.cycle_id, log_action, "failure", now, code, reason)

    def _quarantine(self, reason: str, code: str | None, message: str, now: datetime) -> None:
        """Enter (or stay in) quarantine; retries 6 h, 12 h, 24 h, then daily; disabled after 4 weeks (doc S4)."""
        current = self.quarantine
        if current is None:
            current = self.quarantine = Quarantine(reason, code, message, now, now, None, 0)
        current.series_count += 1
        current.reason, current.error_code, current.message, current.current_began = reason, code, message, now
        if reason == reactions.TOO_MANY_DELETES:
            current.next_attempt = None
        else:
            current.next_attempt = now + reactions.quarantine_gap(current.series_count,
                                                                  self.settings["quarantine_retry_hours"])
        if now - current.series_began >= timedelta(days=self.settings["quarantine_disable_after_days"]):
            self.job_disabled = True

    def _conclude(self, cycle: CycleState) -> None:
        """Escrow thresholds may quarantine the job; otherwise a good cycle lifts an earlier quarantine."""
        now = self.clock.now()
        if not cycle.stopped:
            reason = reactions.threshold_breached(self.escrow, cycle.objects, cycle.failures, self.settings)
            if reason:
                self._quarantine(reason, None, f"{len(self.escrow.entries)} objects in escrow ({reason})", now)
                cycle.report.aborted = f"quarantined: {reason}"
            else:
                self.quarantine = None
        self.executions.append({
            "activityIdentifier": cycle.cycle_id, "countEntitled": cycle.objects,
            "countExported": cycle.objects - cycle.failures, "countEscrowed": len(self.escrow.entries),
            "state": "Failed" if cycle.stopped or self.quarantine else "Succeeded",
            "timeBegan": iso(cycle.began), "timeEnded": iso(now)})

    # -- Entra's own view ---------------------------------------------------------------------------------------
    def provisioning_log(self) -> list[dict]:
        """The provisioning log as Graph's `provisioningObjectSummary` list (a real tenant's JSON export)."""
        return list(self.log.entries)

    def job_status(self) -> dict:
        """The job's status in Graph's `synchronizationStatus` shape (code, quarantine with reason and
        nextAttempt, last executions), plus the PATCH generation and escrow count for the run report."""
        if self.job_disabled:
            code = "Paused"
        elif self.quarantine:
            code = "Quarantine"
        else:
            code = "Active" if self.executions else "NotRun"
        failures = 0
        for execution in reversed(self.executions):
            if execution["state"] != "Failed":
                break
            failures += 1
        succeeded = [e for e in self.executions if e["state"] == "Succeeded"]
        return {"code": code, "countSuccessiveCompleteFailures": failures, "escrowsPruned": False,
                "lastExecution": self.executions[-1] if self.executions else None,
                "lastSuccessfulExecution": succeeded[-1] if succeeded else None,
                "quarantine": self.quarantine.as_graph() if self.quarantine else None,
                "patchGeneration": "aadOptscim062020" if self.flag else "default",
                "escrows": len(self.escrow.entries)}

    def own_view(self) -> tuple[list[str], dict]:
        status, log = self.job_status(), self.provisioning_log()
        outcomes: dict[str, int] = {}
        for entry in log:
            outcome = entry["provisioningStatusInfo"]["status"]
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        quarantine = status["quarantine"]
        lines = [f"Entra provisioning job: {status['code']}, {status['patchGeneration']} PATCH, "
                 f"{status['escrows']} escrowed"
                 + (f"; quarantined ({quarantine['reason']}), next attempt {quarantine['nextAttempt']}"
                    if quarantine else ""),
                 "Provisioning log: " + (", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) or "empty")]
        return lines, {"jobStatus": status, "provisioningLog": log}

    # -- expected end state -------------------------------------------------------------------------------------
    def _match_key(self, user: DirectoryUser) -> tuple[str, str]:
        values = self.mapped_values(user)
        attribute = next((a for a in self.settings["matching_attributes"] if a in values),
                         self.settings["matching_attributes"][0])
        return attribute, values.get(attribute, "")

    def expected_users(self) -> list[ExpectedUser]:
        expected = []
        created = {object_id for cycle in self.cycles for object_id in cycle.created}
        for object_id, user in self.directory.deleted_users.items():
            if object_id in self.unmanaged:          # unassigned before the purge: left disabled, never deleted
                expected.append(ExpectedUser(object_id, user.user_principal_name, "inactive",
                                             *self._match_key(user), {"active": False}))
            else:
                expected.append(ExpectedUser(object_id, user.user_principal_name, "absent", *self._match_key(user)))
        for object_id, user in self.directory.users.items():
            if self._provisionable(user):
                values = self.mapped_values(user)
                if 'emails[type eq "work"].value' in values and object_id in created:
                    values['emails[type eq "work"].primary'] = True     # only the create body marks it primary
                manager = self.links.get(user.manager_id or "")
                if manager and MANAGER_PATH in self.user_mappings:
                    values[f"{MANAGER_PATH}.value"] = manager
                expected.append(ExpectedUser(object_id, user.user_principal_name, "present",
                                             *self._match_key(user), values))
            elif self.user_in_scope(object_id) or not self.settings["skip_out_of_scope_deletions"]:
                expected.append(ExpectedUser(object_id, user.user_principal_name, "inactive",
                                             *self._match_key(user), {"active": False}))
        return expected

