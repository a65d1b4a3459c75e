import json
import re

from harness.cli import main
from harness.transport import ScimClient, in_process_session
from server.embedded import IN_PROCESS_ORIGIN, EmbeddedApp, EmbeddedServer

ORIGIN = "http://app.in-process"


def echo_app(environ, start_response):
    """Answers with what it was sent, so the test sees the request exactly as the WSGI app received it."""
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    seen = {"method": environ["REQUEST_METHOD"], "path": environ["PATH_INFO"], "query": environ["QUERY_STRING"],
            "body": body.decode(), "host": environ["HTTP_HOST"], "content_type": environ.get("CONTENT_TYPE"),
            "user_agent": environ.get("HTTP_USER_AGENT"), "authorization": environ.get("HTTP_AUTHORIZATION")}
    start_response("418 I'm a teapot", [("Content-Type", "application/scim+json"), ("X-Seen", "yes")])
    return [json.dumps(seen).encode()]


def test_adapter_hands_the_request_to_the_app_and_its_answer_back():
    client = ScimClient(ORIGIN + "/scim/v2", "tok", session=in_process_session(echo_app, ORIGIN), user_agent=None)
    exchange = client.patch("/Users/1", {"userName": "Zoë"}, params={"filter": 'a eq "b"'})
    assert exchange.status == 418
    assert exchange.response_content_type == "application/scim+json"
    assert exchange.response_body == {
        "method": "PATCH", "path": "/scim/v2/Users/1", "query": "filter=a+eq+%22b%22",
        "body": json.dumps({"userName": "Zoë"}, ensure_ascii=False), "host": "app.in-process",
        "content_type": "application/scim+json", "user_agent": None, "authorization": "Bearer tok"}


def _lifecycle(client: ScimClient) -> list[tuple]:
    created = client.post("/Users", {"userName": "Ana.Núñez@Contoso.com", "active": True})
    user_id = created.response_body["id"]
    steps = [created,
             client.get("/Users", params={"filter": 'userName eq "ana.núñez@contoso.com"'}),
             client.patch(f"/Users/{user_id}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                                "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
             client.post("/Users", {"userName": "ANA.NÚÑEZ@contoso.com"}),
             client.delete(f"/Users/{user_id}"),
             client.get(f"/Users/{user_id}")]
    return [(e.status, e.response_content_type, _shape(e.response_body)) for e in steps]


def _shape(body):
    """The body with what differs between two servers by nature (ids, times, origin) blanked out."""
    if isinstance(body, dict):
        return {k: "…" if k in ("id", "created", "lastModified", "location", "detail") else _shape(v)
                for k, v in body.items()}
    if isinstance(body, list):
        return [_shape(v) for v in body]
    return body


def test_in_process_answers_as_the_server_does_over_http():
    with EmbeddedServer() as server, EmbeddedApp() as app:
        over_http = _lifecycle(ScimClient(server.base_url, server.token))
        in_process = _lifecycle(ScimClient(app.base_url, app.token,
                                           session=in_process_session(app.app, IN_PROCESS_ORIGIN)))
    assert [s[0] for s in in_process] == [201, 200, 200, 409, 204, 404]
    assert in_process == over_http


def test_simulate_in_process_provisions_and_verifies(capsys):
    code = main(["simulate", "--idp", "entra", "--in-process", "--users", "30", "--seed", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert re.search(r"Cycle 1 \(initial\): created \d+, matched 0", out)
    assert re.search(r"Verification: 30 users, \d+ attribute values compared with the target \(\d+ reads\): "
                     r"PASSED", out)


def test_simulate_in_process_refuses_a_target(capsys):
    assert main(["simulate", "--idp", "entra", "--in-process", "--target", "http://127.0.0.1:9/scim/v2"]) == 2
    assert "--in-process" in capsys.readouterr().err
