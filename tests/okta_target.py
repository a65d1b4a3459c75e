"""A pretend SCIM target for Okta's traffic under `responses`: the shared fake's /Users plus PUT, path-less PATCH,
paging, /Groups with member PATCHes, and scripted answers (429s, 502 pages) queued ahead of the real handlers."""
from __future__ import annotations

import json
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import responses

from tests.fake_scim import LIST, FakeScimTarget

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


class OktaFakeTarget(FakeScimTarget):
    def __init__(self, *args, page_cap: int | None = None, leak_password: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.groups: dict[str, dict] = {}
        self.scripted: list[tuple[int, dict, str]] = []   # (status, headers, body) answered before anything else
        self.page_cap = page_cap                           # serve fewer than `count` per page
        self.leak_password = leak_password                 # keep and return `password` (a bad server)

    def install(self, rsps: responses.RequestsMock) -> "OktaFakeTarget":
        base = re.escape(self.base_url)
        routes = [
            (responses.GET, r"/Users\?.*", self._query), (responses.GET, r"/Users/[^/?]+$", self._get),
            (responses.POST, r"/Users$", self._post), (responses.PUT, r"/Users/[^/?]+$", self._put),
            (responses.PATCH, r"/Users/[^/?]+$", self._patch), (responses.DELETE, r"/Users/[^/?]+$", self._delete),
            (responses.GET, r"/Groups\?.*", self._query_groups), (responses.GET, r"/Groups/[^/?]+$", self._get_group),
            (responses.POST, r"/Groups$", self._post_group), (responses.PUT, r"/Groups/[^/?]+$", self._put_group),
            (responses.PATCH, r"/Groups/[^/?]+$", self._patch_group),
            (responses.DELETE, r"/Groups/[^/?]+$", self._delete_group),
        ]
        for method, pattern, handler in routes:
            rsps.add_callback(method, re.compile(base + pattern), callback=self._scripted_or(handler))
        return self

    def script(self, status: int, body: str | dict = "", headers: dict | None = None, times: int = 1) -> None:
        """Answer the next `times` requests with this response, whatever they are."""
        text = body if isinstance(body, str) else json.dumps(body)
        self.scripted += [(status, headers or {}, text)] * times

    def _scripted_or(self, handler):
        def respond(request):
            if self.scripted:
                return self.scripted.pop(0)
            return handler(request)
        return respond

    # -- users ------------------------------------------------------------------------------------------------
    def _page(self, request, found: list[dict]):
        query = parse_qs(urlsplit(request.url).query)
        start = int(query.get("startIndex", ["1"])[0])
        count = int(query.get("count", [str(len(found))])[0])
        count = min(count, self.page_cap) if self.page_cap else count
        page = found[start - 1:start - 1 + count]
        return self._reply(200, {"schemas": [LIST], "totalResults": len(found), "startIndex": start,
                                 "itemsPerPage": len(page), "Resources": page})

    def _query(self, request):
        if not self._authorised(request):
            return self._error(401, "bad token")
        query = parse_qs(urlsplit(request.url).query)
        match = re.fullmatch(r'userName eq "(.*)"', query.get("filter", [""])[0])
        found = [u for u in self.users.values()
                 if not match or str(u.get("userName", "")).lower() == match.group(1).lower()]
        return self._page(request, [] if match and self.hide_from_filter else found)

    def _post(self, request):
        status, headers, text = super()._post(request)
        if status == 201 and not self.leak_password:
            user = self.users[json.loads(text)["id"]]
            user.pop("password", None)
            text = json.dumps(user)
        return status, headers, text

    def _put(self, request):
        status, headers, text = self._get(request)         # auth and 404 answered as for a GET
        if status != 200:
            return status, headers, text
        stored = json.loads(text)
        body = json.loads(request.body)
        if not self.leak_password:
            body.pop("password", None)
        body.update({"id": stored["id"], "meta": stored["meta"]})
        self.users[stored["id"]] = body
        return self._reply(200, body)

    def _apply(self, user: dict, op: dict) -> None:
        """The shared fake's PATCH, plus Okta's path-less replace of an object value (answered 204)."""
        if "path" in op:
            super()._apply(user, op)
        else:
            user.update(op["value"])

    # -- groups -----------------------------------------------------------------------------------------------
    def add_group(self, display_name: str, members: list[dict] | None = None) -> dict:
        group = {"schemas": [GROUP], "id": uuid.uuid4().hex, "displayName": display_name,
                 "members": members or [], "meta": {"resourceType": "Group"}}
        self.groups[group["id"]] = group
        return group

    def member_ids(self, group_id: str) -> list[str]:
        return [m["value"] for m in self.groups[group_id].get("members") or []]

    def _query_groups(self, request):
        if not self._authorised(request):
            return self._error(401, "bad token")
        query = parse_qs(urlsplit(request.url).query)
        match = re.fullmatch(r'displayName eq "(.*)"', query.get("filter", [""])[0])
        return self._page(request, [g for g in self.groups.values()
                                    if not match or g["displayName"] == match.group(1)])

    def _group_or_404(self, request):
        return self.groups.get(self._id(request))

    def _get_group(self, request):
        group = self._group_or_404(request)
        return self._reply(200, group) if group else self._error(404, "Resource not found")

    def _post_group(self, request):
        body = json.loads(request.body)
        if any(g["displayName"] == body.get("displayName") for g in self.groups.values()):
            return self._error(409, "displayName already exists", "uniqueness")
        return self._reply(201, self.add_group(body["displayName"], body.get("members")))

    def _put_group(self, request):
        group = self._group_or_404(request)
        if group is None:
            return self._error(404, "Resource not found")
        body = json.loads(request.body)
        group.update(displayName=body["displayName"], members=body.get("members") or [])
        return self._reply(200, group)

    def _patch_group(self, request):
        group = self._group_or_404(request)
        if group is None:
            return self._error(404, "Resource not found")
        for op in json.loads(request.body)["Operations"]:
            path = op.get("path")
            removed = re.fullmatch(r'members\[value eq "(.*)"\]', path or "")
            if removed:
                group["members"] = [m for m in group["members"] if m["value"] != removed.group(1)]
            elif path == "members":
                group["members"] = op["value"] if op["op"] == "replace" else group["members"] + op["value"]
            else:
                group["displayName"] = op["value"]["displayName"]
        return self._reply(204)

    def _delete_group(self, request):
        if self.groups.pop(self._id(request), None) is None:
            return self._error(404, "Resource not found")
        return self._reply(204)
