"""The request bodies Okta sends, built from a directory user or group: the create POST, the read-modify-write PUT
that echoes the server's own GET, the path-less activation PATCH, and Group Push's POST/PUT/PATCH shapes."""
from __future__ import annotations

import copy
import hashlib
import random
import string
from typing import Any, Callable

from harness.attribute_paths import get_ci
from harness.directory import DirectoryUser

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
WORK_EMAIL = 'emails[type eq "work"].value'
DEPARTMENT = f"{ENTERPRISE_USER}:department"

# The SCIM 2.0 app-user profile an AIW app starts with: SCIM attribute path <- Okta user profile value.
BASE_MAPPINGS: tuple[tuple[str, Callable[[DirectoryUser], Any]], ...] = (
    ("userName", lambda u: u.user_principal_name),        # Okta username (login) by default
    ("name.givenName", lambda u: u.given_name),
    ("name.familyName", lambda u: u.surname),
    (WORK_EMAIL, lambda u: u.mail),
    ("displayName", lambda u: u.display_name),
)
# Added when the admin maps title and department (§3: title top-level, department under the enterprise URN).
ENTERPRISE_MAPPINGS: tuple[tuple[str, Callable[[DirectoryUser], Any]], ...] = (
    ("title", lambda u: u.job_title),
    (DEPARTMENT, lambda u: u.department),
)
_ID_ALPHABET = string.ascii_letters + string.digits


def okta_id(prefix: str, object_id: str) -> str:
    """A stable Okta-style id for a directory object: `00u` (users) or `00g` (groups) and 17 base-62 characters."""
    number = int.from_bytes(hashlib.sha256(object_id.encode()).digest(), "big")
    chars = []
    for _ in range(17):
        number, digit = divmod(number, len(_ID_ALPHABET))
        chars.append(_ID_ALPHABET[digit])
    return prefix + "".join(chars)


def random_password(rng: random.Random) -> str:
    """Okta's placeholder password: 8 random characters, sent on every create even without password sync."""
    return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(8))


def mapped_values(user: DirectoryUser, *, locale: str | None, enterprise: bool) -> dict[str, Any]:
    """SCIM path -> value under the app's mappings; attributes without a value are left out, as Okta does."""
    mappings = BASE_MAPPINGS + (ENTERPRISE_MAPPINGS if enterprise else ())
    values = {path: source(user) for path, source in mappings}
    values["locale"] = locale
    return {path: value for path, value in values.items() if value not in (None, "")}


def create_body(values: dict[str, Any], external_id: str, password: str) -> dict:
    """POST /Users in the order of Okta's documented example (§3)."""
    body: dict[str, Any] = {"schemas": [CORE_USER, ENTERPRISE_USER] if DEPARTMENT in values else [CORE_USER]}
    if "userName" in values:
        body["userName"] = values["userName"]
    name = {sub: values[f"name.{sub}"] for sub in ("givenName", "familyName") if f"name.{sub}" in values}
    if name:
        body["name"] = name
    if WORK_EMAIL in values:
        body["emails"] = [{"primary": True, "value": values[WORK_EMAIL], "type": "work"}]
    for key in ("displayName", "locale", "title"):
        if key in values:
            body[key] = values[key]
    body.update({"externalId": external_id, "groups": [], "password": password, "active": True})
    if DEPARTMENT in values:
        body[ENTERPRISE_USER] = {"department": values[DEPARTMENT]}
    return body


def _set(container: dict, key: str, value: Any) -> None:
    """Set `key`, reusing the spelling the server used for it (attribute names are case-insensitive)."""
    existing = next((k for k in container if isinstance(k, str) and k.lower() == key.lower()), key)
    container[existing] = value


def _child(container: dict, key: str) -> dict:
    child = get_ci(container, key)
    if not isinstance(child, dict):
        child = {}
        _set(container, key, child)
    return child


def echo_put_body(current: dict, values: dict[str, Any] | None, active: bool) -> dict:
    """Read-modify-write: the server's own GET body (id, meta, extra and even leaked attributes kept) with Okta's
    mapped values written over it and `active` set. `values=None` flips only `active` (Okta's deactivation PUT)."""
    body = copy.deepcopy(current)
    for path, value in (values or {}).items():
        if path == WORK_EMAIL:
            _set_work_email(body, value)
        elif path.startswith("name."):
            _set(_child(body, "name"), path.split(".", 1)[1], value)
        elif path == DEPARTMENT:
            _child(body, ENTERPRISE_USER)["department"] = value
            if ENTERPRISE_USER not in (body.get("schemas") or []):
                body["schemas"] = [*(body.get("schemas") or [CORE_USER]), ENTERPRISE_USER]
        else:
            _set(body, path, value)
    _set(body, "active", active)
    return body


def _set_work_email(body: dict, value: str) -> None:
    emails = get_ci(body, "emails")
    if not isinstance(emails, list):
        emails = []
        _set(body, "emails", emails)
    entry = next((e for e in emails if isinstance(e, dict) and get_ci(e, "primary") is True), None) or next(
        (e for e in emails if isinstance(e, dict) and str(get_ci(e, "type")).lower() == "work"), None)
    if entry is None:
        emails.append({"primary": True, "value": value, "type": "work"})
    else:
        _set(entry, "value", value)


def active_patch(active: bool) -> dict:
    """The OIN template's (de)activation: one path-less `replace` whose value is an object (§4)."""
    return {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": active}}]}


def group_body(display_name: str, members: list[dict]) -> dict:
    """Group POST, and the AIW PUT: always the full member list, never add/remove (§5)."""
    return {"schemas": [CORE_GROUP], "displayName": display_name, "members": members}


def membership_patch(removed_ids: list[str], added: list[dict]) -> dict:
    """One `remove` per departing member by value filter, then one `add` carrying every new member."""
    operations: list[dict] = [{"op": "remove", "path": f'members[value eq "{target_id}"]'} for target_id in removed_ids]
    if added:
        operations.append({"op": "add", "path": "members", "value": added})
    return {"schemas": [PATCH_OP], "Operations": operations}


def members_replace_patch(members: list[dict]) -> dict:
    """"Push Now": the whole member list replaced."""
    return {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "members", "value": members}]}


def rename_patch(group_id: str, display_name: str) -> dict:
    """The "rename" Okta sends after every membership change, even when the name did not change; `id` rides in
    the value."""
    return {"schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "value": {"id": group_id, "displayName": display_name}}]}
