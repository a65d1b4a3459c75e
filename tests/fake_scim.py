"""A pretend SCIM target for `responses`: in-memory /Users and /Groups stores whose faults are switched on per test.
Faults model real broken servers: dropped PATCHes, ignored DELETEs, 404 on empty filters, hidden-but-unique users."""
from __future__ import annotations

import json
import re
import uuid
from typing import Any

import responses

from harness.attribute_paths import get_ci, parse_path

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _attr(name: str, *subs: str) -> dict:
    attr: dict[str, Any] = {"name": name, "type": "complex" if subs else "string"}
    if subs:
        attr["subAttributes"] = [{"name": s, "type": "string"} for s in subs]
    return attr


# What the seed contract advertises (shared/seed/SCIM.md): userName, name, emails, active, externalId.
SEED_SCHEMAS = [{"id": CORE, "name": "User", "attributes": [
    _attr("userName"), _attr("name", "formatted", "familyName", "givenName"),
    _attr("emails", "value", "type", "primary"), _attr("active"), _attr("externalId")]}]
FULL_SCHEMAS = [
    {"id": CORE, "name": "User", "attributes": [
        _attr("userName"), _attr("name", "formatted", "familyName", "givenName"), _attr("displayName"),
        _attr("title"), _attr("emails", "value", "type", "primary"), _attr("active")]},
    {"id": ENTERPRISE, "name": "EnterpriseUser", "attributes": [
        _attr("employeeNumber"), _attr("department"), _attr("manager", "value")]},
]


class FakeScimTarget:
    def __init__(self, base_url: str = "https://scim.example.test/scim/v2", token: str = "secret", *,
                 schemas: list[dict] | None = None, drop_patches: bool = False, ignore_deletes: bool = False,
                 probe_status: int | None = None, hide_from_filter: bool = False,
                 booleans_verbatim: bool = False, drop_attributes: tuple[str, ...] = ()) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.schemas = FULL_SCHEMAS if schemas is None else schemas
        self.drop_patches = drop_patches          # answers 204 to PATCH and changes nothing
        self.ignore_deletes = ignore_deletes      # answers 204 to DELETE and keeps the user
        self.probe_status = probe_status          # status for a filter that finds nothing (404: a classic bug)
        self.hide_from_filter = hide_from_filter  # filter never finds anything, POST still enforces uniqueness
        self.booleans_verbatim = booleans_verbatim  # stores "False" as the string it was sent
        self.drop_attributes = drop_attributes    # top-level keys silently not stored (a narrow contract)
        self.users: dict[str, dict] = {}
        self.groups: dict[str, dict] = {}

    # -- wiring -------------------------------------------------------------------------------------------------
    def install(self, rsps: responses.RequestsMock) -> "FakeScimTarget":
        base = re.escape(self.base_url)
        for collection in ("Users", "Groups"):
            rsps.add_callback(responses.GET, re.compile(base + rf"/{collection}\?.*"), callback=self._query)
            rsps.add_callback(responses.GET, re.compile(base + rf"/{collection}/[^/?]+(\?.*)?$"), callback=self._get)
            rsps.add_callback(responses.POST, re.compile(base + rf"/{collection}$"), callback=self._post)
            rsps.add_callback(responses.PATCH, re.compile(base + rf"/{collection}/[^/?]+$"), callback=self._patch)
            rsps.add_callback(responses.DELETE, re.compile(base + rf"/{collection}/[^/?]+$"), callback=self._delete)
        rsps.add_callback(responses.GET, re.compile(base + r"/Schemas$"), callback=self._schemas)
        return self

    def add_user(self, resource: dict) -> dict:
        user = {**resource, "id": uuid.uuid4().hex, "meta": {"resourceType": "User"}}
        self.users[user["id"]] = user
        return user

    def find(self, user_name: str) -> dict | None:
        return next((u for u in self.users.values() if str(u.get("userName", "")).lower() == user_name.lower()),
                    None)

    # -- handlers -----------------------------------------------------------------------------------------------
    def _authorised(self, request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    @staticmethod
    def _reply(status: int, body: Any = None):
        headers = {"Content-Type": "application/scim+json"}
        return status, headers, "" if body is None else json.dumps(body)

    def _error(self, status: int, detail: str, scim_type: str | None = None):
        body = {"schemas": [ERROR], "status": str(status), "detail": detail}
        if scim_type:
            body["scimType"] = scim_type
        return self._reply(status, body)

    def _id(self, request) -> str:
        return request.path_url.split("?")[0].rstrip("/").rsplit("/", 1)[1]

    def _store(self, request) -> dict[str, dict]:
        return self.groups if "/Groups" in request.path_url else self.users

    def _query(self, request):
        if not self._authorised(request):
            return self._error(401, "bad token")
        from urllib.parse import parse_qs, urlsplit
        query = parse_qs(urlsplit(request.url).query)
        match = re.fullmatch(r'(\w+) eq "(.*)"', query.get("filter", [""])[0])
        store = self._store(request)
        found = [] if self.hide_from_filter else (
            [r for r in store.values() if str(get_ci(r, match.group(1)) or "").lower() == match.group(2).lower()]
            if match else list(store.values()))
        if not found and self.probe_status and self.probe_status != 200:
            return self._error(self.probe_status, "not found")
        start = int(query.get("startIndex", ["1"])[0])
        page = found[start - 1:start - 1 + int(query.get("count", [len(found)])[0])]
        return self._reply(200, {"schemas": [LIST], "totalResults": len(found), "startIndex": start,
                                 "itemsPerPage": len(page), "Resources": page})

    def _get(self, request):
        if not self._authorised(request):
            return self._error(401, "bad token")
        resource = self._store(request).get(self._id(request))
        return self._reply(200, resource) if resource else self._error(404, "Resource not found")

    def _post(self, request):
        if not self._authorised(request):
            return self._error(401, "bad token")
        body = json.loads(request.body)
        if self._store(request) is self.groups:
            group = {**body, "id": f"g{len(self.groups) + 1}", "meta": {"resourceType": "Group"}}
            self.groups[group["id"]] = group
            return self._reply(201, group)
        if self.find(body.get("userName", "")):
            return self._error(409, "userName already exists", "uniqueness")
        body = {k: v for k, v in body.items() if k not in self.drop_attributes and k != "roles"}
        return self._reply(201, self.add_user(body))

    def _patch(self, request):
        if not self._authorised(request):
            return self._error(401, "bad token")
        user = self._store(request).get(self._id(request))
        if user is None:
            return self._error(404, "Resource not found")
        if not self.drop_patches:
            for op in json.loads(request.body)["Operations"]:
                self._apply(user, op)
        return self._reply(204)

    def _apply(self, user: dict, op: dict) -> None:
        if op.get("path", "").startswith("members"):
            self._apply_members(user, op)
            return
        path = parse_path(op["path"])
        value = op.get("value")
        if not self.booleans_verbatim and isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if path.schema is None and path.attribute in self.drop_attributes:
            return
        container = user.setdefault(path.schema, {}) if path.schema else user
        key = next((k for k in container if k.lower() == path.attribute.lower()), path.attribute)
        if path.value_filter:
            items = container.setdefault(key, [])
            element = next((i for i in items if str(get_ci(i, path.value_filter[0])) == path.value_filter[1]), None)
            if element is None:
                element = {path.value_filter[0]: path.value_filter[1]}
                items.append(element)
            element[path.sub_attribute or "value"] = value
        elif path.sub_attribute:
            container.setdefault(key, {})[path.sub_attribute] = value
        else:
            container[key] = value

    @staticmethod
    def _apply_members(group: dict, op: dict) -> None:
        """Entra's member ops only: add a value list, remove a value list or one `members[value eq "x"]`."""
        members = group.setdefault("members", [])
        if op["op"].lower() == "add":
            members += [{"value": m["value"]} for m in op["value"] if {"value": m["value"]} not in members]
            return
        gone = {m["value"] for m in op.get("value") or []}
        gone |= set(re.findall(r'members\[value eq "(.*)"\]', op["path"]))
        group["members"] = [m for m in members if m["value"] not in gone]

    def _delete(self, request):
        if not self._authorised(request):
            return self._error(401, "bad token")
        store = self._store(request)
        if self._id(request) not in store:
            return self._error(404, "Resource not found")
        if not self.ignore_deletes:
            del store[self._id(request)]
        return self._reply(204)

    def _schemas(self, request):
        if not self._authorised(request):
            return self._error(401, "bad token")
        return self._reply(200, {"schemas": [LIST], "totalResults": len(self.schemas), "startIndex": 1,
                                 "itemsPerPage": len(self.schemas), "Resources": self.schemas})
