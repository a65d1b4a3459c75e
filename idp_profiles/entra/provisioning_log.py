"""Entra's own view of a run: provisioning-log entries in Graph's `provisioningObjectSummary` JSON shape (entra.md §7),
one per object per cycle, so a simulated run can be laid next to a real tenant's JSON export."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from idp_profiles.entra.reactions import iso

SOURCE_SYSTEM = {"id": "", "displayName": "Azure Active Directory", "details": {}}
INITIATED_BY = {"id": "", "displayName": "Azure AD Provisioning Service", "initiatorType": "system"}


@dataclass
class ChangeRecord:
    """What Entra logs about one object in one cycle, filled in while the object is processed."""
    object_id: str
    identity_type: str                  # User or Group
    label: str
    change_type: str                    # Add, Update, Delete (the import step's "change of type (…)")
    began: datetime
    steps: list[dict] = field(default_factory=list)
    modified: list[dict] = field(default_factory=list)
    target_id: str = ""

    def step(self, step_type: str, name: str, status: str, description: str, details: dict | None = None) -> None:
        self.steps.append({"name": name, "provisioningStepType": step_type, "status": status,
                           "description": description, "details": details or {}})

    def modify(self, name: str, old: Any, new: Any) -> None:
        self.modified.append({"displayName": name, "oldValue": _text(old), "newValue": _text(new)})


def _text(value: Any) -> str | None:
    """Graph logs values as strings ("True", not true); nulls stay null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    return value if isinstance(value, str) else str(value)


class ProvisioningLog:
    """The job's provisioning log: `begin` a record per object, `finish` it with the outcome."""

    def __init__(self, app_name: str, rng_seed: Any = None) -> None:
        self.app_name = app_name
        self.job_id = f"scim.{uuid.uuid5(uuid.NAMESPACE_URL, f'{app_name}:{rng_seed}').hex}.{app_name}"
        self.service_principal = {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, self.job_id)), "displayName": app_name}
        self.entries: list[dict] = []

    def begin(self, object_id: str, identity_type: str, label: str, change_type: str, now: datetime,
              source: dict | None = None) -> ChangeRecord:
        record = ChangeRecord(object_id, identity_type, label, change_type, now)
        record.step("import", f"EntryImport{change_type}", "success",
                    f"Received {identity_type} '{label}' change of type ({change_type}) from Azure Active Directory",
                    source)
        return record

    def finish(self, record: ChangeRecord, cycle_id: str, action: str, status: str, now: datetime,
               error_code: str | None = None, reason: str | None = None) -> dict:
        """Append the entry; `action` is create|update|delete|disable|stageddelete|other, `status`
        success|warning|failure|skipped."""
        error = None
        if error_code:
            error = {"errorCode": error_code, "reason": reason, "additionalDetails": None,
                     "errorCategory": "failure" if status == "failure" else "nonServiceFailure",
                     "recommendedAction": None}
        entry = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_OID, f"{cycle_id}:{len(self.entries)}")),
            "activityDateTime": iso(now), "tenantId": "", "jobId": self.job_id, "cycleId": cycle_id,
            "changeId": str(uuid.uuid5(uuid.NAMESPACE_OID, f"{cycle_id}:{record.object_id}")),
            "provisioningAction": action,
            "durationInMilliseconds": int((now - record.began).total_seconds() * 1000),
            "provisioningStatusInfo": {"status": status, "errorInformation": error},
            "provisioningSteps": record.steps,
            "modifiedProperties": record.modified,
            "servicePrincipal": self.service_principal,
            "sourceSystem": SOURCE_SYSTEM,
            "targetSystem": {"id": "", "displayName": self.app_name,
                             "details": {"ServicePrincipalId": self.service_principal["id"],
                                         "ServicePrincipalDisplayName": self.app_name}},
            "initiatedBy": INITIATED_BY,
            "sourceIdentity": {"id": record.object_id, "displayName": record.label,
                               "identityType": record.identity_type, "details": {}},
            "targetIdentity": {"id": record.target_id, "displayName": record.label,
                               "identityType": record.identity_type, "details": {}},
        }
        self.entries.append(entry)
        return entry
