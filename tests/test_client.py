import http.server
import json
import socket
import threading

import pytest
import responses

from harness.transport import ScimClient, TargetUnreachable

BASE = "https://scim.example.test/scim/v2"


def test_filter_is_encoded_like_entra_and_recorded_exactly_as_sent(rsps):
    rsps.add(responses.GET, f"{BASE}/Users", json={"Resources": []}, status=200)
    client = ScimClient(BASE + "/", "secret")
    exchange = client.get("/Users", params={"filter": 'userName eq "Zoë.O\'Brien@Contoso.com"'},
                          subject="u1", purpose="match")
    assert exchange.path == "/Users?filter=userName+eq+%22Zo%C3%AB.O%27Brien%40Contoso.com%22"
    assert rsps.calls[0].request.url == BASE + exchange.path
    assert (exchange.method, exchange.status, exchange.response_body) == ("GET", 200, {"Resources": []})
    assert (exchange.subject, exchange.purpose, exchange.request_body) == ("u1", "match", None)
    assert client.trace == [exchange]


def test_token_is_sent_but_never_recorded(rsps):
    rsps.add(responses.POST, f"{BASE}/Users", json={"id": "1"}, status=201)
    client = ScimClient(BASE, "very-secret-token")
    exchange = client.post("/Users", {"userName": "a"})
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer very-secret-token"
    assert "very-secret-token" not in repr(client.trace)
    assert "Authorization" not in exchange.request_headers


def test_bodies_are_scim_json_utf8(rsps):
    rsps.add(responses.PATCH, f"{BASE}/Users/42", status=204)
    client = ScimClient(BASE, "t")
    body = {"Operations": [{"op": "Replace", "path": "name.familyName", "value": "Ó Súilleabháin"}]}
    exchange = client.patch("/Users/42", body)
    sent = rsps.calls[0].request
    assert sent.headers["Content-Type"] == "application/scim+json"
    assert sent.headers["Accept"] == "application/scim+json"
    assert json.loads(sent.body.decode("utf-8")) == body
    assert "Ó Súilleabháin".encode() in sent.body
    assert exchange.request_body == body and exchange.status == 204 and exchange.response_body is None
    assert exchange.request_headers["Content-Type"] == "application/scim+json"


def test_get_and_delete_send_no_content_type(rsps):
    rsps.add(responses.DELETE, f"{BASE}/Users/42", status=204)
    ScimClient(BASE, "t").delete("/Users/42")
    assert "Content-Type" not in rsps.calls[0].request.headers


def test_non_json_response_is_kept_as_text(rsps):
    rsps.add(responses.GET, f"{BASE}/Users/1", body="<html>Forbidden by WAF</html>", status=403,
             content_type="text/html")
    exchange = ScimClient(BASE, "t").get("/Users/1")
    assert exchange.status == 403 and exchange.response_body == "<html>Forbidden by WAF</html>"
    assert exchange.response_content_type == "text/html"


def test_connection_refused_raises_and_is_recorded():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]          # closed again when the block ends: nothing listens there
    client = ScimClient(f"http://127.0.0.1:{port}/scim/v2", "t", timeout=2)
    with pytest.raises(TargetUnreachable) as caught:
        client.get("/Users", params={"filter": 'userName eq "x"'})
    assert caught.value.exchange is client.trace[0]
    assert client.trace[0].status is None and "Connection" in client.trace[0].error


@pytest.mark.parametrize("user_agent,expected", [(None, None), ("Contoso-Sync/1.0", "Contoso-Sync/1.0")])
def test_user_agent_can_be_left_out_entirely(user_agent, expected):
    seen = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.update(self.headers)
            self.send_response(200)
            self.send_header("Content-Type", "application/scim+json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    try:
        ScimClient(f"http://127.0.0.1:{server.server_port}/v2", "t", user_agent=user_agent).get("/Users")
    finally:
        thread.join(5)
        server.server_close()
    assert seen.get("User-Agent") == expected
    assert seen["Authorization"] == "Bearer t"
