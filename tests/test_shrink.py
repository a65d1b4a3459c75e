"""Shrinking: ddmin itself, and a 500-exchange trace that fails on a server with a planted bug cut to a handful."""
import json
import unicodedata
from contextlib import contextmanager

from harness.cli import main
from harness.shrink import TraceShrinker, ddmin
from harness.trace import Trace, read_trace, write_trace
from harness.transport import ScimClient
from server.embedded import EmbeddedServer
from tests.conftest import new_user, patch_body
from tests.test_record_replay import buggy_server


def test_ddmin_finds_a_one_minimal_subset():
    calls = []

    def fails(items):
        calls.append(items)
        return {3, 17, 42} <= set(items)

    assert ddmin(list(range(60)), fails) == [3, 17, 42]
    assert ddmin([5], lambda items: 5 in items) == [5]


def five_hundred_exchanges() -> Trace:
    """100 users, five exchanges each; one surname (user 41's) is not ASCII."""
    with EmbeddedServer() as server:
        client = ScimClient(server.base_url, server.token)
        ids = [client.post("/Users", new_user(f"user{n}@contoso.com")).response_body["id"] for n in range(100)]
        for n, user_id in enumerate(ids):
            surname = "Ó Súilleabháin" if n == 41 else f"Surname{n}"
            client.get("/Users", params={"filter": f'userName eq "user{n}@contoso.com"'})
            client.patch(f"/Users/{user_id}", patch_body({"op": "Replace", "path": "name.familyName", "value": surname}))
            client.get(f"/Users/{user_id}")
            client.patch(f"/Users/{user_id}", patch_body({"op": "Replace", "path": "active", "value": False}))
    return Trace(client.trace, source="test", base_url=server.base_url)


def ascii_folding_patch(status, body):
    """The planted bug: PATCH answers fold accents out of familyName."""
    resource = json.loads(body)
    name = resource.get("name", {})
    if "familyName" in name:
        name["familyName"] = unicodedata.normalize("NFKD", name["familyName"]).encode("ascii", "ignore").decode()
    return status, json.dumps(resource).encode()


def test_a_500_exchange_failing_trace_shrinks_to_a_handful(tmp_path):
    trace = five_hundred_exchanges()
    assert len(trace.exchanges) == 500

    @contextmanager
    def fresh_buggy_target():
        server, token = buggy_server(tmp_path, "PATCH", r"/scim/v2/Users/[^/]+", ascii_folding_patch)
        with server:
            yield server.url + "/scim/v2", token

    shrinker = TraceShrinker(trace, fresh_buggy_target)
    kept, divergence = shrinker.shrink()
    assert divergence.signature() == ("body", "PATCH", "/Users/{id}", 200, 200)
    assert [(e.method, e.status) for e in kept] == [("POST", 201), ("PATCH", 200)]
    assert kept[0].request_body["userName"] == "user41@contoso.com"
    assert shrinker.trials < 30


def test_shrink_command_writes_the_minimal_trace(tmp_path, capsys):
    """Against the embedded server a trace recorded elsewhere diverges where the other server answered differently:
    here a recorded 500 for a good request."""
    with EmbeddedServer() as server:
        client = ScimClient(server.base_url, server.token)
        for n in range(30):
            client.post("/Users", new_user(f"u{n}@contoso.com"))
    client.trace[17].status, client.trace[17].response_body = 500, {"status": "500"}
    source = tmp_path / "recorded.jsonl"
    write_trace(source, Trace(client.trace, source="test"))
    assert main(["shrink", str(source)]) == 0
    out = capsys.readouterr().out
    assert "Shrunk 30 exchanges to 1 in" in out and "#17 POST /Users: status diverges" in out
    minimal = read_trace(tmp_path / "recorded.min.jsonl")
    assert [e.request_body["userName"] for e in minimal.exchanges] == ["u17@contoso.com"]
    assert minimal.exchanges[0].index == 0
