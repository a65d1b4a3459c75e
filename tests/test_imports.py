"""HAR captures → traces: SCIM entries kept with their base URL stripped, secrets dropped; the result replays."""
import base64
import json

from harness.cli import main
from harness.replay import replay_trace
from harness.trace import read_trace
from harness.transport import ScimClient
from server.embedded import EmbeddedServer
from tests.conftest import new_user, patch_body


def har_entry(base_url, exchange, token, encode_response=False):
    text = json.dumps(exchange.response_body) if exchange.response_body is not None else ""
    content = {"mimeType": exchange.response_content_type or "", "size": len(text), "text": text}
    if encode_response:
        content.update(text=base64.b64encode(text.encode()).decode(), encoding="base64")
    request = {"method": exchange.method, "url": base_url + exchange.path, "httpVersion": "HTTP/1.1",
               "headers": [{"name": "Authorization", "value": f"Bearer {token}"},
                           {"name": "Cookie", "value": "session=s3cr3t"},
                           {"name": "User-Agent", "value": "Okta SCIM Client 1.0.0"}], "queryString": [], "cookies": []}
    if exchange.request_body is not None:
        request["postData"] = {"mimeType": "application/json", "text": json.dumps(exchange.request_body)}
    return {"startedDateTime": f"2024-05-14T09:12:{exchange.index:02d}.000Z", "time": 12.5, "request": request,
            "response": {"status": exchange.status, "statusText": "", "httpVersion": "HTTP/1.1",
                         "headers": [{"name": "Content-Type", "value": exchange.response_content_type or ""}],
                         "cookies": [], "content": content, "redirectURL": "", "headersSize": -1, "bodySize": -1},
            "cache": {}, "timings": {"send": 0, "wait": 12, "receive": 0}}


def test_har_capture_imports_as_a_trace_that_replays_the_same(tmp_path, capsys):
    with EmbeddedServer() as server:
        client = ScimClient(server.base_url, server.token)
        created = client.post("/Users", new_user("Ana.Núñez@Contoso.com"))
        client.get("/Users", params={"filter": 'userName eq "ana.núñez@contoso.com"'})
        client.patch(f"/Users/{created.response_body['id']}",
                     patch_body({"op": "replace", "path": "active", "value": False}))
        client.get(f"/Users/{created.response_body['id']}")
        entries = [har_entry(server.base_url, e, server.token, encode_response=e.index == 3) for e in client.trace]
    entries.insert(1, {"startedDateTime": "2024-05-14T09:12:00.500Z", "time": 3,
                       "request": {"method": "GET", "url": "https://cdn.example.com/app.js", "headers": []},
                       "response": {"status": 200, "headers": [], "content": {"text": "x"}}})
    har = tmp_path / "capture.har"
    har.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "test"}, "entries": entries[::-1]}}))
    out = tmp_path / "capture.jsonl"
    assert main(["import", "har", str(har), "--out", str(out)]) == 0
    assert "wrote 4 exchanges" in capsys.readouterr().out
    text = out.read_text()
    assert server.token not in text and "s3cr3t" not in text
    trace = read_trace(out)
    assert trace.base_url == server.base_url and trace.source == "har"
    assert [e.path.split("?")[0] for e in trace.exchanges] == ["/Users", "/Users", *[f"/Users/{created.response_body['id']}"] * 2]
    assert trace.exchanges[3].response_body["active"] is False                  # base64 content decoded
    assert trace.exchanges[0].request_headers == {"User-Agent": "Okta SCIM Client 1.0.0"}
    with EmbeddedServer() as fresh:
        assert replay_trace(trace, fresh.base_url, fresh.token).divergences == []
