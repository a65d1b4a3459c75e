"""Redaction: no original name, email, id or phone number survives; shapes and consistency do, so it still replays."""
import re
import unicodedata
from urllib.parse import unquote_plus

from harness.cli import main
from harness.redact import Pseudonyms
from harness.replay import replay_trace
from harness.trace import Trace, read_trace, write_trace
from harness.transport import ScimClient
from server.embedded import EmbeddedServer
from tests.conftest import new_user, patch_body, simulate_entra

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def personal_trace(tmp_path):
    """An Entra run (sample org: accents, apostrophes, non-Latin scripts) plus hand-made edge cases."""
    with EmbeddedServer() as server:
        run = simulate_entra(server.base_url, server.token, users=15, seed=5)
        client = ScimClient(server.base_url, server.token)
        ivan = client.post("/Users", new_user("Иван.Петров@Contoso.com", email="ivan.petrov+hr@contoso.com",
                                              phoneNumbers=[{"type": "work", "value": "+44 20 7946 0958"}],
                                              externalId="ipetrov", name={"givenName": "Иван", "familyName": "Петров"}))
        client.post("/Users", new_user("山田.太郎@contoso.co.jp", name={"givenName": "太郎", "familyName": "山田"}))
        client.post("/Users", new_user("иван.петров@contoso.com"))                     # 409 naming the userName
        group = client.post("/Groups", {"schemas": [GROUP], "displayName": "Payroll Admins",
                                        "members": [{"value": ivan.response_body["id"]}]})
        client.patch(f"/Groups/{group.response_body['id']}", patch_body(
            {"op": "remove", "path": f'members[value eq "{ivan.response_body["id"]}"]'}))
        client.get("/Users", params={"filter": 'userName eq "иван.петров@contoso.com"'})
        client.get("/Users", params={"filter": 'emails[value eq "ivan.petrov+hr@contoso.com"]'})
        client.get("/Schemas")               # ids like urn:…:core:2.0:User are protocol, not personal data
        client.get("/ResourceTypes")
    source = tmp_path / "personal.jsonl"
    write_trace(source, Trace(run.idps[0].profile.trace + client.trace, source="test", base_url=server.base_url))
    return source


def originals_in(trace: Trace) -> set[str]:
    """Every personal value, found independently of the redactor: the attributes of each resource sent or returned."""
    found = set()

    def walk(node, parent=None):
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str) and (key in {"userName", "displayName", "externalId", "id", "givenName",
                                                       "familyName", "formatted"}
                                               or key == "value" and parent in {"emails", "phoneNumbers", "members"}):
                    found.add(value)
                walk(value, key)
        elif isinstance(node, list):
            for item in node:
                walk(item, parent)
    for exchange in trace.exchanges:
        if exchange.path.startswith(("/Schemas", "/ResourceTypes")):
            continue
        walk(exchange.request_body)
        walk(exchange.response_body)
        found.update(s for s in exchange.path.split("?")[0].split("/")[2:] if s)
    return found


def test_redaction_leaves_no_original_behind_and_keeps_shapes(tmp_path, capsys):
    source = personal_trace(tmp_path)
    original = read_trace(source)
    out = tmp_path / "redacted.jsonl"
    assert main(["redact", str(source), "--out", str(out), "--seed", "s"]) == 0
    assert "no original value remains" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    searchable = (text + unquote_plus(text)).casefold()
    values = originals_in(original)
    assert len(values) > 60
    assert [v for v in values if len(v) >= 3 and v.casefold() in searchable] == []
    assert "contoso" not in searchable and "127.0.0.1" not in searchable

    redacted = read_trace(out)
    assert len(redacted.exchanges) == len(original.exchanges)
    pairs = list(zip(original.exchanges, redacted.exchanges))
    ivan_before, ivan_after = next((a, b) for a, b in pairs if a.request_body and
                                   str(a.request_body.get("userName", "")).startswith("Иван"))
    upn = ivan_after.request_body["userName"]
    given, family, domain_word = re.fullmatch(r"(\w{4})\.(\w{6})@(\w{7})\.com", upn).groups()   # length, structure
    for word in (given, family):                                                         # script and case pattern
        assert all(unicodedata.name(c).startswith("CYRILLIC") for c in word), word
        assert word[0].isupper() and word[1:].islower()
    assert re.fullmatch(r"[A-Z][a-z]{6}", domain_word)
    email = ivan_after.request_body["emails"][0]["value"]
    local, domain = email.split("@")
    assert re.fullmatch(r"[a-z]{4}\.[a-z]{6}\+[a-z]{2}", local) and domain == upn.split("@")[1].lower()
    assert re.fullmatch(r"\+\d\d \d\d \d{4} \d{4}", ivan_after.request_body["phoneNumbers"][0]["value"])
    assert ivan_after.request_body["name"] == {
        "givenName": upn.split(".")[0], "familyName": upn.split(".")[1].split("@")[0]}     # the same words, mapped alike
    kanji = next(b for a, b in pairs if a.request_body and "山田" in str(a.request_body.get("userName", "")))
    assert all(unicodedata.name(c).startswith("CJK") for c in kanji.request_body["userName"][:5] if c != ".")
    assert kanji.request_body["userName"].endswith(".co.jp")
    created_id = next(b for a, b in pairs if a.method == "POST" and a.status == 201).response_body["id"]
    assert re.fullmatch(r"[0-9a-f]{32}", created_id)
    # the same value is the same made-up value everywhere: ids in paths match ids in bodies, so the trace still replays
    with EmbeddedServer() as fresh:
        assert replay_trace(redacted, fresh.base_url, fresh.token).divergences == []


def test_pseudonyms_keep_case_pattern_and_are_consistent_across_case():
    words = Pseudonyms(b"k")
    assert words.text("Contoso.com") == words.text("contoso.com").capitalize()
    assert words.text("ZOË") == words.text("zoë").upper() and not words.text("zoë").isascii()
    assert words.text("Zoë") != "Zoë" and len(words.text("O'Brien")) == 7 and words.text("O'Brien")[1] == "'"


def test_nothing_is_written_when_an_original_would_remain(tmp_path, capsys):
    """A userName that is also a schema word cannot be rewritten where it is protocol: refuse rather than leak."""
    with EmbeddedServer() as server:
        client = ScimClient(server.base_url, server.token)
        client.post("/Groups", {"schemas": [GROUP], "displayName": "Group"})
    source = tmp_path / "t.jsonl"
    write_trace(source, Trace(client.trace, source="test"))
    assert main(["redact", str(source), "--out", str(tmp_path / "r.jsonl")]) == 1
    assert "would remain" in capsys.readouterr().err and not (tmp_path / "r.jsonl").exists()
