"""What an Entra admin configures on the Provisioning blade: Tenant URL flags, mappings, matching precedence, scope,
group provisioning, and the job's thresholds. Every choice entra.md marks [unconfirmed] or [inferred] is a setting."""
from __future__ import annotations

from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from harness.directory import DirectoryGroup, DirectoryUser

ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MANAGER_PATH = f"{ENTERPRISE_USER}:manager"
FLAG = "aadOptscim062020"               # behaviour flag appended to the Tenant URL (entra.md §4)
ROLLBACK_FLAG = "AzureAdScimPatch2017"  # announced roll-back flag: the default (2017) PATCH generation

# Entra source attributes (and the two default expressions) -> how to read them from a directory user.
USER_SOURCES: dict[str, Callable[[DirectoryUser], Any]] = {
    "objectId": lambda u: u.object_id,
    "userPrincipalName": lambda u: u.user_principal_name,
    "mail": lambda u: u.mail,
    "mailNickname": lambda u: u.mail_nickname,
    "givenName": lambda u: u.given_name,
    "surname": lambda u: u.surname,
    "displayName": lambda u: u.display_name,
    "jobTitle": lambda u: u.job_title,
    "department": lambda u: u.department,
    "employeeId": lambda u: u.employee_id,
    'Join(" ", [givenName], [surname])': lambda u: " ".join(p for p in (u.given_name, u.surname) if p) or None,
    'Switch([IsSoftDeleted], , "False", "True", "True", "False")': lambda u: u.soft_deleted_at is None,
    "manager": lambda u: u.manager_id,          # a reference: written by its own PATCH (entra.md §2.1 step 5)
}
GROUP_SOURCES: dict[str, Callable[[DirectoryGroup], Any]] = {
    "displayName": lambda g: g.display_name,
    "objectId": lambda g: g.object_id,
    "mailNickname": lambda g: g.mail_nickname,
    "description": lambda g: g.description,
}

# The default user mapping set of a non-gallery app, in the portal's order (entra.md §3.3): target <- source.
DEFAULT_USER_MAPPINGS: dict[str, str] = {
    "userName": "userPrincipalName",
    "active": 'Switch([IsSoftDeleted], , "False", "True", "True", "False")',
    "displayName": "displayName",
    "title": "jobTitle",
    'emails[type eq "work"].value': "mail",
    "name.givenName": "givenName",
    "name.familyName": "surname",
    "name.formatted": 'Join(" ", [givenName], [surname])',
    "externalId": "mailNickname",
    f"{ENTERPRISE_USER}:employeeNumber": "employeeId",
    f"{ENTERPRISE_USER}:department": "department",
    MANAGER_PATH: "manager",
}
DEFAULT_GROUP_MAPPINGS: dict[str, str] = {"displayName": "displayName", "externalId": "objectId"}

DEFAULT_SETTINGS: dict[str, Any] = {
    # None: as the Tenant URL says (…/scim/v2?aadOptscim062020); True/False overrides it.
    "aadOptscim062020": None,
    "matching_attributes": ["userName", "externalId"],      # matching precedence 1, 2, …
    "user_mappings": {},              # edits over DEFAULT_USER_MAPPINGS: target -> source, or None to delete
    "scope": "assigned",              # "assigned" (Sync only assigned users and groups) or "all"
    "provision_groups": True,
    "group_probe": True,              # [unconfirmed] Test Connection/start-of-run also looks up a random group
    # [doc S1 example] POST /Groups lists the ADSCIM schema; gallery-era servers reject unknown extensions.
    "group_create_adscim_schema": True,
    # Manager PATCH value: "string" (real 2024 capture, S49), "object" ({"value": id}), "ref_list" (historic doc).
    "manager_shape": "string",
    "skip_out_of_scope_deletions": False,     # job secret SkipOutOfScopeDeletions (doc S8)
    "soft_delete_retention_days": 30,         # the directory purges soft-deleted users after this
    # Accidental-deletion prevention: more disables+deletes than this in one cycle stages them (doc S7).
    "accidental_deletions_threshold": 500,
    "accidental_deletions_prevention": True,
    # Escrow thresholds (doc S4, "subject to change"): evaluation starts at `escrow_evaluation_start` failures.
    "escrow_evaluation_start": 5000,
    "escrow_proportion_threshold": 0.40,      # share of this cycle's objects that failed
    "escrow_base_threshold": 40000,           # failures excluding references (manager, members)
    "escrow_total_threshold": 60000,          # all failures, references included
    # Escrow retries: first after one cycle, gaps doubling up to once a day ([inferred] from doc S3/S45).
    "escrow_first_retry_minutes": 40,
    "escrow_max_retry_minutes": 1440,
    # Quarantine retries after the failure: 6 h, 12 h, 24 h, then every 24 h; disabled after 28 days (doc S4).
    "quarantine_retry_hours": [6, 12, 24],
    "quarantine_disable_after_days": 28,
}


def split_tenant_url(tenant_url: str) -> tuple[str, dict[str, str]]:
    """The Tenant URL without its query string, and the flags found in it (`?aadOptscim062020` has no value)."""
    parts = urlsplit(tenant_url)
    flags = dict(parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit(parts._replace(query="")), flags


def flag_enabled(setting: bool | None, url_flags: Mapping[str, str]) -> bool:
    if setting is not None:
        return bool(setting)
    return FLAG in url_flags and ROLLBACK_FLAG not in url_flags


def user_mappings(edits: Mapping[str, str | None]) -> dict[str, str]:
    """The default user mappings with the admin's edits applied (new targets go last, as in the portal)."""
    mappings = dict(DEFAULT_USER_MAPPINGS)
    for target, source in edits.items():
        if source is None:
            mappings.pop(target, None)
        elif source not in USER_SOURCES:
            raise ValueError(f"unknown Entra source attribute {source!r} for {target}; known: "
                             f"{', '.join(USER_SOURCES)}")
        else:
            mappings[target] = source
    return mappings


def validate(settings: Mapping[str, Any], mappings: Mapping[str, str]) -> None:
    if settings["scope"] not in ("assigned", "all"):
        raise ValueError("scope must be 'assigned' or 'all'")
    if settings["manager_shape"] not in ("string", "object", "ref_list"):
        raise ValueError("manager_shape must be 'string', 'object' or 'ref_list'")
    unmapped = [a for a in settings["matching_attributes"] if a not in mappings]
    if unmapped or not settings["matching_attributes"]:
        raise ValueError(f"matching attributes must be mapped target attributes: {unmapped or 'none given'}")
