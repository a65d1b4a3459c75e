"""Scale: the same lookups, list pages and group operations on a small and a large workspace, seeded straight
through the service's storage path in one transaction per chunk (not over HTTP), then served like any target."""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from bench.load import Measurement, RequestMaker, run_load
from bench.throughput import CORE_GROUP, PATCH_OP, entra_user, spread
from bench.targets import running

SMALL_GROUP = 10
CHUNK = 10_000
OPERATIONS = ("filter GET", "GET by id", "list page 100 (first)", "list page 100 (middle)",
              "member add", "group GET excl. members")


@dataclass
class Workspace:
    users: int
    group_size: int
    user_names: list[str] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)
    group_id: str = ""
    seconds_to_seed: float = 0.0


def seed_database(db_path: str, users: int, group_size: int) -> Workspace:
    """`users` users in Entra's shape and one group holding the first `group_size` of them, in workspace 'bench'
    (the one bench.targets serves). Rows go through the service's own insert, so every derived table is kept."""
    from server.app import create_app
    from server.scim import normalise
    from server.storage import now_timestamp
    from server.tokens import ensure_workspace

    started = time.perf_counter()
    service = create_app(db_path).config["SERVICE"]
    workspace_id = ensure_workspace(service.store, "bench")["id"]
    user_type, group_type = service.contract.resource_type("User"), service.contract.resource_type("Group")
    ws = Workspace(users, group_size, user_names=[f"user{i}@contoso.com" for i in range(users)])
    ws.user_ids = [uuid.uuid4().hex for _ in range(users)]
    stamp = now_timestamp()
    for first in range(0, users, CHUNK):
        with service.store.transaction() as db:
            for name, user_id in zip(ws.user_names[first:first + CHUNK], ws.user_ids[first:first + CHUNK]):
                data = normalise.normalise_resource(entra_user(name), user_type).data
                service._insert(db, workspace_id, user_type, user_id, data, stamp)
    ws.group_id = uuid.uuid4().hex
    with service.store.transaction() as db:
        data = normalise.normalise_resource({"schemas": [CORE_GROUP], "displayName": "Everyone"}, group_type).data
        service._insert(db, workspace_id, group_type, ws.group_id, data, stamp)
        service.store.add_members(db, workspace_id, ws.group_id, {i: "User" for i in ws.user_ids[:group_size]})
    ws.seconds_to_seed = time.perf_counter() - started
    return ws


def operation_requests(ws: Workspace) -> dict[str, RequestMaker]:
    outsiders = ws.user_ids[ws.group_size:]   # each member add brings a new member into the group
    return {
        "filter GET": lambda i: ("GET", f"/Users?filter=userName+eq+%22{ws.user_names[spread(i, ws.users)]}%22",
                                 None),
        "GET by id": lambda i: ("GET", f"/Users/{ws.user_ids[spread(i, ws.users)]}", None),
        "list page 100 (first)": lambda i: ("GET", "/Users?startIndex=1&count=100", None),
        "list page 100 (middle)": lambda i: ("GET", f"/Users?startIndex={ws.users // 2}&count=100", None),
        "member add": lambda i: ("PATCH", f"/Groups/{ws.group_id}", {"schemas": [PATCH_OP], "Operations": [
            {"op": "Add", "path": "members", "value": [{"value": outsiders[i % len(outsiders)]}]}]}),
        "group GET excl. members": lambda i: ("GET", f"/Groups/{ws.group_id}?excludedAttributes=members", None),
    }


def measure_workspace(db_path: str, users: int, group_size: int, seconds: float,
                      max_requests: int) -> tuple[Workspace, dict[str, Measurement]]:
    ws = seed_database(db_path, users, group_size)
    makers = operation_requests(ws)
    with running("scimharness", db_path) as (base_url, token, pid):
        return ws, {name: run_load(base_url, token, makers[name], seconds=seconds, max_requests=max_requests,
                                   server_pid=pid) for name in OPERATIONS}
