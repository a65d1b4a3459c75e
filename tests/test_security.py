"""Security: tokens stored only as hashes and compared in constant time; every malformed or wrong credential
gets the same 401; nothing crosses workspaces, not even existence; injection goes no further than a 400;
oversized bodies are refused unread; no secret reaches the log or an error; security headers everywhere."""
from __future__ import annotations

import hashlib
import json
import socket
import time
import uuid

import pytest
from hypothesis import given, strategies as st

from server import tokens
from server.admin_keys import generate_admin_key
from server.http.security import SECURITY_HEADERS
from server.storage import Store
from tests import scim_strategies as s
from tests.conftest import new_user, patch_body
from tests.reliability_support import assert_scim_error, load_profile, snapshot, sql_dump

load_profile()


@pytest.fixture
def keys(db_path, token, other_scim):
    store = Store(db_path)
    return {"token": token, "other_token": other_scim.token, "admin": generate_admin_key(store, "acme"),
            "other_admin": generate_admin_key(store, "globex")}


def _wrong_credentials(keys: dict) -> list[str | None]:
    token, admin = keys["token"], keys["admin"]
    return [None, "", "Bearer", "Bearer ", "Bearer  ", f"Basic {token}", f"Token {token}", token, f"Bearer{token}",
            f"Bearer {token}x", f"Bearer {token[:-1]}", f"Bearer {token.upper()}", f"Bearer {admin}",
            f"Bearer {tokens.TOKEN_PREFIX}", f"Bearer {'a' * 8000}", "Bearer ' OR 1=1 --", "Bearer \u202e\u00e9",
            f"Bearer {hashlib.sha256(token.encode()).hexdigest()}", f"Bearer {token},Bearer {token}"]


def test_tokens_are_stored_only_as_sha256_and_checked_with_compare_digest(db_path, keys, scim, monkeypatch):
    raw = open(db_path, "rb").read() + open(db_path + "-wal", "rb").read()
    for secret in (keys["token"], keys["admin"]):
        assert secret.encode() not in raw
        assert len(secret) - len(tokens.TOKEN_PREFIX) >= 43  # 256 random bits, base64url
    assert hashlib.sha256(keys["token"].encode()).hexdigest().encode() in raw
    compared = []
    real_compare = tokens.hmac.compare_digest
    monkeypatch.setattr(tokens.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real_compare(a, b))
    assert scim.get("/Users").status_code == 200
    assert compared and all(len(a) == len(b) == 64 for a, b in compared)


def test_every_wrong_scim_credential_gets_the_same_401(app, keys):
    client = app.test_client()
    answers = set()
    for header in _wrong_credentials(keys):
        response = client.get("/scim/v2/Users", headers={"Authorization": header} if header is not None else {})
        assert response.status_code == 401, header
        assert_scim_error(401, response.get_json(force=True))
        answers.add((response.get_data(), response.headers["WWW-Authenticate"]))
    assert len(answers) == 1, "the 401 says which part of the credential was wrong"


def test_every_wrong_admin_credential_gets_the_same_401(app, keys):
    client = app.test_client()
    wrong = [h for h in _wrong_credentials(keys) if h != f"Bearer {keys['admin']}"] + [f"Bearer {keys['token']}"]
    answers = {client.get("/api/workspace", headers={"Authorization": h} if h is not None else {}).get_data()
               for h in wrong}
    assert len(answers) == 1


@given(header=st.one_of(s.text, st.builds("Bearer {}".format, s.text),
                        st.builds("Bearer scimh_{}".format, st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_",
                                                                    min_size=43, max_size=43))))
def test_brute_force_guesses_get_the_same_401(app, keys, header):
    header = header.encode("utf-8", "surrogatepass").decode("latin-1").replace("\r", "").replace("\n", "")
    response = app.test_client().get("/scim/v2/Users", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_data() == app.test_client().get("/scim/v2/Users").get_data()


# --- isolation: another workspace's real ids behave exactly like ids that never existed ---------------------


@pytest.fixture
def acme(scim):
    user = scim.post("/Users", json=new_user("ann@acme.test")).get_json()
    group = scim.post("/Groups", json={"schemas": [s.GROUP], "displayName": "Staff",
                                       "members": [{"value": user["id"]}]}).get_json()
    scim.flask.post(f"/api/members/{user['id']}/activity", json={"kind": "login"})
    return {"Users": user["id"], "Groups": group["id"]}


def _scim_attempts(kind: str, target: str) -> list[tuple[str, str, dict | None]]:
    body = new_user("x@globex.test") if kind == "Users" else {"schemas": [s.GROUP], "displayName": "X"}
    return [("GET", f"/{kind}/{target}", None), ("PUT", f"/{kind}/{target}", body),
            ("PATCH", f"/{kind}/{target}", patch_body({"op": "replace", "path": "externalId", "value": "stolen"})),
            ("DELETE", f"/{kind}/{target}", None),
            ("POST", "/Groups", {"schemas": [s.GROUP], "displayName": f"Thieves {kind}", "members": [{"value": target}]}),
            ("POST", "/Bulk", {"schemas": [s.BULK], "Operations": [
                {"method": "PATCH", "path": f"/{kind}/{target}", "data": patch_body(
                    {"op": "replace", "path": "externalId", "value": "stolen"})},
                {"method": "DELETE", "path": f"/{kind}/{target}"}]}),
            ("GET", f"/{kind}", {"filter": f'id eq "{target}"'}),
            ("POST", "/.search", {"filter": f'id eq "{target}" or members.value eq "{target}"'})]


@pytest.mark.parametrize("kind", ["Users", "Groups"])
def test_foreign_ids_answer_exactly_like_unknown_ids(acme, scim, other_scim, db_path, kind):
    before = snapshot(db_path)
    real, guessed = acme[kind], uuid.uuid4().hex
    for (method, path, body), (_, guessed_path, guessed_body) in zip(_scim_attempts(kind, real),
                                                                      _scim_attempts(kind, guessed)):
        answers = []
        for attempt_path, attempt_body in ((path, body), (guessed_path, guessed_body)):
            query = attempt_body if method == "GET" else None
            json_body = None if method == "GET" else attempt_body
            response = other_scim._call(method, attempt_path, json=json_body, query_string=query)
            answers.append((response.status_code, _without(response.get_data(as_text=True), real, guessed)))
        assert answers[0] == answers[1], (method, path)
        assert answers[0][0] in (200, 400, 404), (method, path, answers[0])
    assert snapshot(db_path) == before


def test_admin_api_never_reaches_another_workspace(acme, app, keys, db_path):
    before = snapshot(db_path)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {keys['other_admin']}"}
    real, guessed = acme["Users"], uuid.uuid4().hex
    for method, template, body in [("GET", "/api/members/{}", None), ("GET", "/api/members/{}/activity", None),
                                   ("POST", "/api/members/{}/activity", {"kind": "login"})]:
        answers = [(r.status_code, _without(r.get_data(as_text=True), real, guessed))
                   for r in (client.open(template.format(target), method=method, json=body, headers=headers)
                             for target in (real, guessed))]
        assert answers[0] == answers[1] and answers[0][0] == 404, (method, template, answers)
    listing = client.get("/api/members", headers=headers).get_json()
    assert real not in json.dumps(listing)
    log = client.get("/api/request-log", headers=headers).get_data(as_text=True)
    assert real not in log and "ann@acme.test" not in log
    assert snapshot(db_path) == before


def _without(text: str, *ids: str) -> str:
    for resource_id in ids:
        text = text.replace(resource_id, "<id>")
    return text


# --- injection -----------------------------------------------------------------------------------------------

INJECTIONS = ['userName eq "x" or 1=1', 'userName eq "x") OR 1=1 --', "userName eq \"x' OR '1'='1\"",
              'userName eq "x"; DROP TABLE resources; --', "userName eq \"x\" UNION SELECT token_hash FROM workspaces",
              'emails[value eq "a" or 1 eq 1].value pr', "userName eq \"\\\") OR 1=1 --\"", 'userName co "%"',
              'userName sw "_"', "$.userName eq \"x\"", "userName[?(@.length>0)]", 'data like "%"',
              "json_extract(data, '$.userName') pr", 'userName eq "x" or workspace_id pr']


@pytest.mark.parametrize("filter_text", INJECTIONS)
def test_filter_injection_matches_only_what_the_filter_says(acme, scim, other_scim, db_path, filter_text):
    before = snapshot(db_path)
    for client in (scim, other_scim):
        response = client.get("/Users", query_string={"filter": filter_text})
        if response.status_code == 200:  # a legal filter over literal text: only real matches
            found = response.get_json()["Resources"]
            assert all(not r["userName"] or "%" in filter_text or "_" in filter_text for r in found)
            assert client is scim or not found
        else:
            assert response.status_code == 400
            assert_scim_error(400, response.get_json())
    assert snapshot(db_path) == before


@pytest.mark.parametrize("path", ['userName"; DROP TABLE resources; --', "$.userName", "$..*", "emails[?(@.primary)]",
                                  'emails[value eq "a" or 1=1].value', "meta.version", "id", "schemas[0]",
                                  "__proto__", "constructor.prototype", "../workspace_id", "workspace_id"])
def test_patch_path_injection_changes_nothing(acme, scim, db_path, path):
    """Refused as a bad path, or (for a well-formed name the schema lacks) dropped as an unknown attribute."""
    before = snapshot(db_path)
    response = scim.patch(f"/Users/{acme['Users']}", json=patch_body({"op": "replace", "path": path, "value": "x"}))
    if response.status_code != 200:
        assert response.status_code == 400
        assert_scim_error(400, response.get_json())
    assert snapshot(db_path) == before


# --- oversized bodies ----------------------------------------------------------------------------------------


def test_a_huge_content_length_is_refused_before_the_body_arrives(live_server):
    port = int(live_server.base_url.split(":")[2].split("/")[0])
    head = (f"POST /scim/v2/Users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {live_server.token}\r\n"
            f"Content-Type: application/scim+json\r\nContent-Length: {100 * 1024 ** 2}\r\n\r\n{{\"userName\":")
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head.encode())  # 100 MiB promised, a dozen bytes sent
        reply = sock.recv(4096).decode("latin-1")
    assert reply.startswith("HTTP/1.1 413"), reply
    assert time.monotonic() - started < 3


def test_an_oversized_bulk_body_is_refused_with_a_scim_error_unread(scim, db_path):
    before = snapshot(db_path)
    response = scim.post("/Bulk", data=b"{" + b" " * 2_000_000 + b"}",
                         headers={"Content-Type": "application/scim+json"})
    assert response.status_code == 413
    assert_scim_error(413, response.get_json())
    assert snapshot(db_path) == before


# --- secrets in logs and errors, and headers -----------------------------------------------------------------


def test_no_token_or_admin_key_reaches_the_log_or_an_answer(app, keys, db_path, acme, caplog):
    client = app.test_client()
    secrets = [keys["token"], keys["admin"], keys["other_token"], keys["other_admin"]]
    answers = []
    for secret in secrets:
        for header in (f"Bearer {secret}", f"Bearer {secret}x", secret, f"Basic {secret}"):
            for method, path, body in (("GET", f"/scim/v2/Users?filter=userName eq \"{secret}\"", None),
                                       ("POST", "/scim/v2/Users", {"userName": secret, "password": secret}),
                                       ("PATCH", f"/scim/v2/Users/{acme['Users']}", {"token": secret}),
                                       ("POST", "/scim/v2/Bulk", {"Operations": [{"method": "POST", "path": secret}]}),
                                       ("GET", f"/scim/v2/{secret}", None), ("GET", "/api/request-log", None)):
                response = client.open(path, method=method, json=body, headers={
                    "Authorization": header, "User-Agent": f"Okta {secret}", "X-Token": secret})
                if response.status_code >= 400:  # a success may rightly echo what the client stored
                    answers.append(response.get_data(as_text=True))
    stored = "\n".join(line for line in sql_dump(db_path) if '"request_log"' in line)
    written = "\n".join([*answers, stored, caplog.text])
    for secret in secrets:
        assert secret not in written
        assert secret[len("scimha_"):][:20] not in written  # not even a recognisable part of one
    assert "[redacted]" in stored


def test_security_headers_on_every_kind_of_answer(app, scim, admin, acme):
    client = app.test_client()
    responses = [scim.get("/Users"), scim.get(f"/Users/{acme['Users']}"), scim.post("/Users", json=new_user("b@x.test")),
                 scim.delete(f"/Users/{acme['Users']}"), scim.get("/Users/nope"), scim.post("/Users", data=b"{"),
                 scim.get("/ServiceProviderConfig"), client.get("/scim/v2/Users"), client.get("/nowhere"),
                 client.get("/api/workspace"), admin.get("/api/workspace"), admin.get("/api/nowhere"),
                 scim.post("/Bulk", data=b" " * 2_000_000)]
    for response in responses:
        for header, value in SECURITY_HEADERS.items():
            assert response.headers.get(header) == value, (response.status_code, header)
