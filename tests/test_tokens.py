"""Bearer tokens as the seed promises: shown once, stored only as a hash, replaced at once on regeneration."""
import json
import sqlite3

from harness.cli import main
from server.tokens import hash_token


def test_token_generate_prints_base_url_and_token_once_as_json(db_path, capsys):
    assert main(["token", "generate", "--db", db_path, "--workspace", "acme",
                 "--server-url", "https://scim.example.com", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["workspace"] == "acme"
    assert printed["base_url"] == "https://scim.example.com/scim/v2"
    assert printed["token"].startswith("scimh_") and len(printed["token"]) > 40


def test_only_the_hash_is_stored(db_path, capsys):
    main(["token", "generate", "--db", db_path, "--json"])
    token = json.loads(capsys.readouterr().out)["token"]
    dump = "\n".join(sqlite3.connect(db_path).iterdump())
    assert token not in dump
    assert hash_token(token) in dump


def test_regenerating_invalidates_the_previous_token(app, db_path, capsys):
    client = app.test_client()
    main(["token", "generate", "--db", db_path, "--json"])
    first = json.loads(capsys.readouterr().out)["token"]
    assert client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {first}"}).status_code == 200
    main(["token", "generate", "--db", db_path, "--json"])
    second = json.loads(capsys.readouterr().out)["token"]
    assert first != second
    assert client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {first}"}).status_code == 401
    assert client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {second}"}).status_code == 200


def test_missing_or_wrong_token_gets_401_scim_error_with_challenge(app, token):
    client = app.test_client()
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {token}"},
                    {"Authorization": token}):
        response = client.get("/scim/v2/Users", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.mimetype == "application/scim+json"
        body = response.get_json(force=True)
        assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
        assert body["status"] == "401"
