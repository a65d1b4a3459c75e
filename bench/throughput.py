"""Server throughput, one operation at a time, against any SCIM target: seeds users and groups over HTTP, then
measures POST, filter GET, GET by id, PATCH (Entra's default shape), group member add, a list page and DELETE."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.load import Measurement, RequestMaker, run_load

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
OPERATIONS = ("POST", "filter GET", "GET by id", "PATCH", "member add", "list page 100", "DELETE")
SEED_GROUPS = 20


def entra_user(name: str) -> dict:
    """A POST /Users body in Entra's shape (entra.md §3.3)."""
    return {"schemas": [CORE_USER, ENTERPRISE_USER], "externalId": name.split("@")[0], "userName": name,
            "active": True, "displayName": f"Bench {name}", "title": "Engineer",
            "emails": [{"primary": True, "type": "work", "value": name}], "meta": {"resourceType": "User"},
            "name": {"formatted": "Bench User", "familyName": "User", "givenName": "Bench"},
            ENTERPRISE_USER: {"employeeNumber": "10001", "department": "Engineering"}, "roles": []}


def entra_patch(i: int) -> dict:
    """Entra's default PATCH: capitalised ops, one per changed attribute, booleans as strings. Only attributes
    every contract supports, so the write is real everywhere (the seed contract drops displayName and title)."""
    return {"schemas": [PATCH_OP], "Operations": [
        {"op": "Replace", "path": "name.givenName", "value": f"Given {i}"},
        {"op": "Replace", "path": "name.familyName", "value": f"Family {i % 7}"},
        {"op": "Replace", "path": "active", "value": "True"}]}


def spread(i: int, n: int) -> int:
    """The i-th pick among n items, scattered rather than sequential (Knuth's multiplicative hash)."""
    return (i * 2654435761) % n


@dataclass
class Population:
    """What a target holds for the run: seeded users (names and ids), groups, and users the POST run created."""
    user_names: list[str] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)
    group_ids: list[str] = field(default_factory=list)
    posted_ids: list[str] = field(default_factory=list)


def _create_all(base_url: str, token: str, endpoint: str, bodies: list[dict], pid: int | None) -> list[str]:
    ids: list[str | None] = [None] * len(bodies)

    def keep_id(i: int, status: int, body: Any) -> None:
        ids[i] = body.get("id") if isinstance(body, dict) else None

    result = run_load(base_url, token, lambda i: ("POST", endpoint, bodies[i]), seconds=600,
                      max_requests=len(bodies), server_pid=pid, on_response=keep_id)
    if result.errors:
        raise RuntimeError(f"seeding {endpoint} failed: {result.first_error}")
    return [i for i in ids if i]


def seed(base_url: str, token: str, users: int, pid: int | None = None) -> Population:
    population = Population(user_names=[f"seed.user{i}@contoso.com" for i in range(users)])
    population.user_ids = _create_all(base_url, token, "/Users", [entra_user(n) for n in population.user_names], pid)
    population.group_ids = _create_all(base_url, token, "/Groups", [
        {"schemas": [CORE_GROUP], "displayName": f"Bench group {g}"} for g in range(SEED_GROUPS)], pid)
    return population


def operation_requests(population: Population) -> dict[str, RequestMaker]:
    """How each measured operation builds its i-th request. Member adds rotate over the groups and users, so
    each group grows by one distinct member per request."""
    p = population
    groups = len(p.group_ids)
    return {
        "POST": lambda i: ("POST", "/Users", entra_user(f"posted.user{i}@contoso.com")),
        "filter GET": lambda i: ("GET", '/Users?filter=userName+eq+%22'
                                 f'{p.user_names[spread(i, len(p.user_names))]}%22', None),
        "GET by id": lambda i: ("GET", f"/Users/{p.user_ids[spread(i, len(p.user_ids))]}", None),
        "PATCH": lambda i: ("PATCH", f"/Users/{p.user_ids[spread(i, len(p.user_ids))]}", entra_patch(i)),
        "member add": lambda i: ("PATCH", f"/Groups/{p.group_ids[i % groups]}", {
            "schemas": [PATCH_OP], "Operations": [
                {"op": "Add", "path": "members", "value": [{"value": p.user_ids[(i // groups) % len(p.user_ids)]}]}]}),
        "list page 100": lambda i: ("GET", "/Users?startIndex=1&count=100", None),
        "DELETE": lambda i: ("DELETE", f"/Users/{p.posted_ids[i]}", None),
    }


def measure_all(base_url: str, token: str, pid: int, population: Population, seconds: float,
                max_requests: int) -> dict[str, Measurement]:
    """Every operation in OPERATIONS order; DELETE removes what POST created, so it is bounded by that count."""
    makers = operation_requests(population)
    results: dict[str, Measurement] = {}
    posted: dict[int, str] = {}

    def keep_posted(i: int, status: int, body: Any) -> None:
        if isinstance(body, dict) and body.get("id"):
            posted[i] = body["id"]

    for name in OPERATIONS:
        limit = len(population.posted_ids) if name == "DELETE" else max_requests
        results[name] = run_load(base_url, token, makers[name], seconds=seconds, max_requests=limit,
                                 server_pid=pid, on_response=keep_posted if name == "POST" else None)
        if name == "POST":
            population.posted_ids = [posted[i] for i in sorted(posted)]
    return results
