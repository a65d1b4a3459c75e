"""The workspace commands of `scimharness`: workspace create|list, admin-key generate, members, log — each with
--db and --json, each documented by --help, each failing clearly."""
import json

import pytest

from harness.cli import build_parser, main
from tests.conftest import AdminTestClient, new_user


def run_json(capsys, *argv) -> object:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_workspace_create_then_list(db_path, capsys):
    created = run_json(capsys, "workspace", "create", "acme", "--db", db_path)
    assert created["name"] == "acme" and created["id"]
    run_json(capsys, "workspace", "create", "globex", "--db", db_path)
    listed = run_json(capsys, "workspace", "list", "--db", db_path)
    assert [w["name"] for w in listed] == ["acme", "globex"]
    assert listed[0]["scim_token_created"] is None and listed[0]["admin_key"] is False
    assert listed[0]["members"] == {"active": 0, "revoked": 0}


def test_creating_an_existing_workspace_fails_clearly(db_path, capsys):
    main(["workspace", "create", "acme", "--db", db_path])
    capsys.readouterr()
    assert main(["workspace", "create", "acme", "--db", db_path]) == 1
    assert "already exists" in capsys.readouterr().err


def test_workspace_list_text_shows_credentials_and_counts(scim, admin, db_path, capsys):
    scim.post("/Users", json=new_user("ann@acme.test"))
    assert main(["workspace", "list", "--db", db_path]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "ID", "CREATED", "SCIM", "TOKEN", "SINCE", "ADMIN", "KEY", "ACTIVE", "REVOKED"]
    assert lines[1].split()[0] == "acme" and lines[1].split()[-3:] == ["yes", "1", "0"]


def test_admin_key_generate_prints_a_working_key_once(app, db_path, capsys):
    printed = run_json(capsys, "admin-key", "generate", "--db", db_path, "--workspace", "acme")
    assert printed["workspace"] == "acme" and printed["admin_key"].startswith("scimha_")
    admin = AdminTestClient(app.test_client(), printed["admin_key"])
    assert admin.get("/workspace").get_json()["name"] == "acme"
    main(["admin-key", "generate", "--db", db_path, "--workspace", "acme"])
    assert "not shown again" in capsys.readouterr().out
    assert admin.get("/workspace").status_code == 401


def test_members_shows_access_and_activity(scim, admin, db_path, capsys):
    ann = scim.post("/Users", json=new_user("ann@acme.test")).get_json(force=True)["id"]
    bob = scim.post("/Users", json=new_user("bob@acme.test")).get_json(force=True)["id"]
    admin.post(f"/members/{ann}/activity", json={"kind": "login"})
    scim.delete(f"/Users/{ann}")
    listed = run_json(capsys, "members", "--db", db_path, "--workspace", "acme")
    assert [(m["id"], m["access"], m["activity_count"]) for m in listed] == [(ann, "revoked", 1), (bob, "active", 0)]
    assert [m["id"] for m in run_json(capsys, "members", "--db", db_path, "--workspace", "acme",
                                      "--access", "active")] == [bob]
    assert main(["members", "--db", db_path, "--workspace", "acme"]) == 0
    text = capsys.readouterr().out
    assert "revoked (deleted)" in text and "ann@acme.test" in text


def test_members_of_an_unknown_workspace_fails_clearly(db_path, capsys):
    assert main(["members", "--db", db_path, "--workspace", "nope", "--json"]) == 1
    captured = capsys.readouterr()
    assert "no workspace named 'nope'" in captured.err and json.loads(captured.out)["error"]


@pytest.mark.parametrize("argv", [["workspace", "create"], ["workspace", "list"], ["admin-key", "generate"],
                                  ["members"], ["log"]])
def test_every_command_documents_itself_and_takes_db_and_json(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([*argv, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert "--db" in text and "--json" in text and len(text.split("\n\n")[1]) > 40  # a real description
