"""Recording through the proxy over real HTTP, replaying on fresh servers, and finding a planted bug."""
import json
import os
import re
import tempfile

import pytest

from harness.cli import main
from harness.record import RecordingProxy
from harness.replay import IdMap, comparable, path_shape, replay_trace
from harness.trace import FORMAT, TraceError, TraceWriter, read_trace
from harness.transport import ScimClient
from server.app import create_app
from server.embedded import EmbeddedServer, LoopbackServer
from server.storage import Store
from server.tokens import generate_token
from tests.conftest import new_user, patch_body, simulate_entra


def _record(tmp_path, drive, name="run.jsonl"):
    """Run `drive(client_base_url, token)` through a recording proxy in front of a fresh embedded server."""
    path = tmp_path / name
    with EmbeddedServer() as upstream, open(path, "w", encoding="utf-8") as out:
        writer = TraceWriter(out, source="record", base_url=upstream.base_url)
        with LoopbackServer(RecordingProxy(upstream.base_url, writer)) as proxy:
            result = drive(proxy.url, upstream.token)
    return path, upstream.token, result


def _lifecycle(base_url, token):
    client = ScimClient(base_url, token)
    created = client.post("/Users", new_user("Zoë.O'Brien@Contoso.onmicrosoft.com", externalId="zobrien"))
    user_id = created.response_body["id"]
    client.get("/Users", params={"filter": 'userName eq "zoë.o\'brien@contoso.onmicrosoft.com"'})
    client.patch(f"/Users/{user_id}", patch_body({"op": "Replace", "path": "name.familyName", "value": "Ó Súilleabháin"}))
    group = client.post("/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                    "displayName": "Pilots", "members": [{"value": user_id}]})
    client.get(f"/Groups/{group.response_body['id']}")
    client.post("/Users", new_user("zoë.o'brien@contoso.onmicrosoft.com"))          # 409: uniqueness
    client.delete(f"/Users/{user_id}")
    client.get(f"/Users/{user_id}")                                                  # 404
    return client.trace


def test_proxy_passes_traffic_through_unchanged_and_records_it_without_the_token(tmp_path):
    path, token, sent = _record(tmp_path, _lifecycle)
    assert [e.status for e in sent] == [201, 200, 200, 201, 200, 409, 204, 404]
    assert sent[0].response_content_type.startswith("application/scim+json")
    text = path.read_text(encoding="utf-8")
    assert token not in text and "Authorization" not in text
    header, *lines = [json.loads(line) for line in text.splitlines()]
    assert header["format"] == FORMAT and header["version"] == 1 and header["source"] == "record"
    assert [(r["method"], r["status"]) for r in lines] == [(e.method, e.status) for e in sent]
    # the path is what the client sent, percent-encoding untouched; bodies are what went over the wire
    assert lines[1]["path"] == sent[1].path and "%22" in lines[1]["path"]
    assert lines[0]["request_body"] == sent[0].request_body
    assert lines[3]["response_body"] == sent[3].response_body
    assert lines[0]["request_headers"] == {"User-Agent": "scimharness/0.1", "Content-Type": "application/scim+json",
                                           "Accept": "application/scim+json"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", lines[0]["time"])


def test_recorded_lifecycle_replays_to_the_same_result_on_a_fresh_server(tmp_path, capsys):
    path, _, _ = _record(tmp_path, _lifecycle)
    assert main(["replay", str(path)]) == 0
    assert "Replayed 8 of 8 exchanges against http://127.0.0.1:" in capsys.readouterr().out
    assert main(["replay", str(path)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("no divergence")


def test_entra_simulation_through_the_proxy_replays_the_same(tmp_path):
    path, _, run = _record(tmp_path, lambda url, token: simulate_entra(url, token, seed=2))
    [idp] = run.idps
    assert run.passed and idp.verification.ok
    trace = read_trace(path)
    harness_reads = idp.verification.reads + sum(c.checks.reads for c in idp.cycles if c.checks)
    assert len(trace.exchanges) == len(idp.profile.trace) + harness_reads
    assert not any("User-Agent" in e.request_headers for e in trace.exchanges[:1])   # Entra's probe sends none
    with EmbeddedServer() as fresh:
        report = replay_trace(trace, fresh.base_url, fresh.token)
    assert report.divergences == [] and len(report.replayed) == len(trace.exchanges)


class CorruptingMiddleware:
    """A planted bug: answers to one kind of request are altered after the app produced them."""

    def __init__(self, app, method, path_pattern, corrupt):
        self.app, self.method, self.pattern, self.corrupt = app, method, re.compile(path_pattern), corrupt

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] != self.method or not self.pattern.fullmatch(environ["PATH_INFO"]):
            return self.app(environ, start_response)
        captured = {}
        body = b"".join(self.app(environ, lambda status, headers, exc=None: captured.update(s=status, h=headers)))
        status, body = self.corrupt(captured["s"], body)
        headers = [(k, v) for k, v in captured["h"] if k.lower() != "content-length"]
        start_response(status, headers + [("Content-Length", str(len(body)))])
        return [body]


def buggy_server(tmp_path, method, path_pattern, corrupt):
    """A fresh database and app (each call its own) behind the corrupting middleware, and a token for it."""
    db = tempfile.mkstemp(suffix=".db", dir=tmp_path)[1]
    os.unlink(db)
    app = create_app(db)
    return LoopbackServer(CorruptingMiddleware(app, method, path_pattern, corrupt)), generate_token(Store(db), "w")


def lowercase_family_name(status, body):
    resource = json.loads(body)
    if "familyName" in resource.get("name", {}):      # a user, not an error
        resource["name"]["familyName"] = resource["name"]["familyName"].lower()
    return status, json.dumps(resource).encode()


def test_replay_against_a_server_with_a_planted_bug_reports_that_exchange_first(tmp_path, capsys):
    path, _, run = _record(tmp_path, lambda url, token: simulate_entra(url, token, seed=2))
    trace = read_trace(path)
    first_read = next(i for i, e in enumerate(trace.exchanges)
                      if e.method == "GET" and re.fullmatch(r"/Users/[^/?]+", e.path)
                      and re.search("[A-Z]", (e.response_body or {}).get("name", {}).get("familyName", "")))
    server, token = buggy_server(tmp_path, "GET", r"/scim/v2/Users/[^/]+", lowercase_family_name)
    with server:
        code = main(["replay", str(path), "--target", server.url + "/scim/v2", "--token", token])
    out = capsys.readouterr().out
    assert code == 1
    first = out.split("First divergence:\n", 1)[1].splitlines()
    assert first[0] == f"#{first_read} {trace.exchanges[first_read].request_line()}: body diverges"
    assert re.search(r'name\.familyName: "[^"]*[A-Z][^"]*" → "[^A-Z"]+"', out)


def test_a_status_bug_is_the_first_divergence_and_later_ones_follow(tmp_path):
    path, _, _ = _record(tmp_path, _lifecycle)
    server, token = buggy_server(tmp_path, "PATCH", r"/scim/v2/Users/[^/]+",
                                 lambda status, body: ("500 INTERNAL SERVER ERROR", b'{"status": "500"}'))
    with server:
        report = replay_trace(read_trace(path), server.url + "/scim/v2", token)
    assert report.first.index == 2 and report.first.kind == "status"
    assert report.first.signature() == ("status", "PATCH", "/Users/{id}", 200, 500)
    # the PATCH was answered 500 without harm, so later exchanges agree again
    assert [d.index for d in report.divergences] == [2]


def test_id_map_rewrites_paths_filters_bodies_and_short_ids():
    ids = IdMap()
    ids.learn({"id": "2819c223-7f76-453a-919d-413861904646", "meta": {"version": 'W/"a"'}},
              {"id": "00000000-aaaa-bbbb-cccc-000000000001", "meta": {"version": 'W/"b"'}})
    ids.learn({"Resources": [{"id": "7", "userName": "Ana@x.com"}]}, {"Resources": [{"id": "42", "userName": "ana@X.com"}]})
    assert ids.rewrite_path("/Users/7") == "/Users/42"
    assert ids.rewrite_path("/Groups?filter=members+eq+%227%22") == "/Groups?filter=members+eq+%2242%22"
    assert ids.rewrite_path("/Users/2819c223-7f76-453a-919d-413861904646?x=17") == \
        "/Users/00000000-aaaa-bbbb-cccc-000000000001?x=17"
    assert ids.rewrite({"Operations": [{"path": 'members[value eq "2819c223-7f76-453a-919d-413861904646"]'},
                                       {"value": [{"value": "7"}, {"value": "17"}]}]}) == \
        {"Operations": [{"path": 'members[value eq "00000000-aaaa-bbbb-cccc-000000000001"]'},
                        {"value": [{"value": "42"}, {"value": "17"}]}]}
    assert ids.rewrite_text('W/"a"') == 'W/"b"'


def test_comparison_ignores_ids_refs_and_meta_times_but_not_values():
    a = {"schemas": ["s"], "id": "1", "userName": "x", "meta": {"created": "t1", "resourceType": "User"},
         "members": [{"value": "m2", "$ref": "http://a/Users/m2"}, {"value": "m1"}]}
    b = {"schemas": ["s"], "id": "9", "userName": "x", "meta": {"created": "t2", "resourceType": "User"},
         "members": [{"value": "m1"}, {"value": "m2", "$ref": "http://b/Users/m2"}]}
    assert comparable(a) == comparable(b)
    assert comparable(a) != comparable({**b, "userName": "y"})


def test_path_shape():
    assert path_shape("/Users/abc?attributes=userName&x=1") == "/Users/{id}?attributes&x"
    assert path_shape("/Users?filter=userName+eq+%22a%22") == "/Users?filter"


def test_a_file_that_is_not_a_trace_is_refused(tmp_path, capsys):
    bad = tmp_path / "x.jsonl"
    bad.write_text('{"format": "something-else"}\n')
    with pytest.raises(TraceError):
        read_trace(bad)
    newer = tmp_path / "newer.jsonl"
    newer.write_text(json.dumps({"format": FORMAT, "version": 99}) + "\n")
    assert main(["replay", str(newer)]) == 2
    assert "version 99" in capsys.readouterr().err


def test_simulate_writes_the_idp_trace_which_replays_the_same(tmp_path, capsys):
    path = tmp_path / "sim.jsonl"
    assert main(["simulate", "--idp", "entra", "--users", "8", "--trace", str(path)]) == 0
    trace = read_trace(path)
    assert trace.source == "simulate --scenario walking-skeleton"
    purposes = {e.purpose for e in trace.exchanges}
    assert {"test-connection", "match", "create", "update", "disable", "delete"} <= purposes
    assert "verify" not in purposes
    capsys.readouterr()
    assert main(["replay", str(path)]) == 0, capsys.readouterr().out
