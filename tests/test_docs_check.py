"""`scimharness docs check`: the shipped setup guides pass step by step, and each broken variant kept in
tests/fixtures/docs fails at the step that cannot work, with a message that says why."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from harness import docs_check
from harness.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "docs"
SHIPPED = sorted(docs_check.GUIDES.glob("*.md"))


def test_the_three_idps_each_have_a_shipped_guide():
    assert {docs_check.parse_guide(p).idp for p in SHIPPED} == {"entra", "okta", "onelogin"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_guide_passes_every_step(path):
    guide = docs_check.parse_guide(path)
    results = docs_check.check_guide(guide)
    assert [(r.step.action, r.passed, r.detail) for r in results if not r.passed] == []
    assert len(results) == len(guide.steps)
    actions = [s.action for s in guide.steps]
    # The guide walks the seed's path, and shows what a regenerated token needs.
    assert actions.index("generate-token") < actions.index("test-connection") < actions.index("provisioning-on")
    assert actions.count("generate-token") == 2


BROKEN = [
    ("okta-bearer-prefix-in-header-mode.md", 5, "test-connection", "the IdP sent `Authorization: Bearer Bearer <token>`"),
    ("okta-verbatim-bare-token.md", 5, "test-connection", "the IdP sent `Authorization: <token>`"),
    ("entra-regenerate-after-configure.md", 5, "test-connection",
     "HTTP 401) — the IdP still holds an older token: the token was regenerated after it was pasted"),
    ("onelogin-groups-without-provisioning-setting.md", 7, "provisioning-on",
     "the guide promises groups, but no group reached the target"),
    ("okta-test-before-token.md", 1, "test-connection", "needs a token, and none exists yet"),
    ("onelogin-provisioning-before-base-url.md", 5, "provisioning-on", "no earlier step sets the Base URL"),
]


@pytest.mark.parametrize("name, number, action, why", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_guide_fails_at_the_step_that_cannot_work(name, number, action, why):
    results = docs_check.check_guide(docs_check.parse_guide(FIXTURES / name))
    failed = results[-1]
    assert [r.passed for r in results] == [True] * (number - 1) + [False]
    assert (failed.step.number, failed.step.action) == (number, action)
    assert why in failed.detail


def test_regenerating_after_provisioning_is_on_fails_the_next_push(tmp_path):
    guide = (docs_check.GUIDES / "okta.md").read_text().replace(
        "<!-- step: generate-token -->\n<!-- step: paste-token form=token -->\n", "<!-- step: generate-token -->\n")
    path = tmp_path / "okta-rotate-without-repaste.md"
    path.write_text(guide)
    failed = docs_check.check_guide(docs_check.parse_guide(path))[-1]
    assert (failed.passed, failed.step.action) == (False, "new-hire")
    assert "the token was regenerated after it was pasted" in failed.detail


def test_command_prints_each_step_and_exits_1_naming_the_failed_step():
    out = io.StringIO()
    path = str(FIXTURES / "okta-bearer-prefix-in-header-mode.md")
    code = docs_check.handle(docs_check_args(path), out)
    text = out.getvalue()
    assert code == 1
    assert "  PASS  step 4 (paste-token form=bearer_token, line 35)" in text
    assert "  FAIL  step 5 (test-connection, line 41): Test Connection failed" in text
    assert "  ----  step 6 (set pushed_groups=[\"*\"], line 49): not run" in text
    assert text.rstrip().endswith("docs check: FAILED")


def test_command_exits_0_on_a_passing_guide(capsys):
    assert main(["docs", "check", str(docs_check.GUIDES / "onelogin.md"), "--users", "3"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("docs check: all steps passed")


@pytest.mark.parametrize("text, why", [
    ("# no header\n<!-- step: generate-token -->\n", "no `<!-- docs-check: idp=NAME -->`"),
    ("<!-- docs-check: idp=ping -->\n<!-- step: generate-token -->\n", "idp must be one of"),
    ("<!-- docs-check: idp=okta -->\nprose\n<!-- step: click-around -->\n", ":3: a step is"),
    ("<!-- docs-check: idp=okta -->\nquoted `<!-- step: x -->` in prose only\n", "no `<!-- step: … -->` markers"),
])
def test_malformed_guides_are_refused_with_the_line(tmp_path, text, why):
    path = tmp_path / "guide.md"
    path.write_text(text)
    with pytest.raises(ValueError) as caught:
        docs_check.parse_guide(path)
    assert why in str(caught.value)


def test_an_unknown_setting_fails_the_step_that_sets_it(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text("<!-- docs-check: idp=okta -->\n<!-- step: set auth_mode=basic -->\n")
    failed = docs_check.check_guide(docs_check.parse_guide(path))[-1]
    assert not failed.passed and "auth_mode must be one of" in failed.detail


def docs_check_args(*files):
    from harness.cli import build_parser
    return build_parser().parse_args(["docs", "check", *files])
