"""The docs cannot drift from the CLI: every `scimharness …` line in a ```bash block of README.md and docs/ runs
(in-process, small organisations, an embedded server for --target), and docs/cli.md names every command and flag."""
from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from harness.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BASH_BLOCK = re.compile(r"```bash\n(.*?)```", re.S)

# Commands that block or run for minutes by design: only their flags are checked against the parser.
NOT_RUN = {
    "serve": "serves until stopped",
    "record": "proxies until Ctrl-C",
    "soak": "runs for minutes of wall-clock time by design",
}
# Documented commands that must fail, and say so in the docs.
EXPECTED_EXIT = {
    "replay docs/examples/customer-trace.jsonl": 1,
    "simulate --scenario customer.toml": 1,          # the sample's 409 does not reproduce on a correct server
}
SMALL_ORG = ["--users", "10"]
# Scenarios run at their own size: the default one is small already, and an imported one lists its users.
EXPLICIT_DIRECTORY = {"walking-skeleton", "customer.toml"}


def documented_commands() -> list[tuple[str, int, list[str]]]:
    """(document, line, argv) of every `scimharness` command in a bash block, `&&` chains split."""
    found = []
    for path in DOCUMENTS:
        text = path.read_text(encoding="utf-8")
        for block in BASH_BLOCK.finditer(text):
            first_line = text.count("\n", 0, block.start(1)) + 1
            for offset, line in enumerate(block.group(1).splitlines()):
                for part in line.split("&&"):
                    words = shlex.split(part, comments=True)
                    if words[:1] == ["scimharness"]:
                        found.append((path.relative_to(ROOT).as_posix(), first_line + offset, words[1:]))
    return found


COMMANDS = documented_commands()


def test_every_document_with_commands_is_found():
    documents = {doc for doc, _, _ in COMMANDS}
    assert {"README.md", "docs/quickstart.md", "docs/reproduce-a-sync-failure.md", "docs/contracts.md"} <= documents


def _runnable(argv: list[str], server) -> list[str]:
    """Placeholders become the live embedded server; organisations shrink to a few users."""
    argv = [server.token if a == "$TOKEN" else server.base_url if a.startswith("https://scim.example.com") else a
            for a in argv]
    if argv[0] == "simulate":
        if "--users" in argv:
            argv[argv.index("--users") + 1] = SMALL_ORG[1]
        elif "--scenario" not in argv or argv[argv.index("--scenario") + 1] not in EXPLICIT_DIRECTORY:
            argv += SMALL_ORG
    if argv[0] == "docs":
        argv += ["--users", "2"]
    return argv


def _sandbox(directory: Path, monkeypatch) -> None:
    """A fresh working directory per document, followed top to bottom as a reader would, with the repository's
    docs/, tests/ and server/ visible as the docs' paths expect."""
    directory.mkdir()
    for name in ("docs", "tests", "server"):
        (directory / name).symlink_to(ROOT / name)
    monkeypatch.chdir(directory)


def test_every_documented_command_runs(tmp_path, monkeypatch, live_server, capsys):
    failures, block = [], None
    for document, line, argv in COMMANDS:
        if argv[0] in NOT_RUN:
            continue
        if document != block:
            block = document
            _sandbox(tmp_path / document.replace("/", "_"), monkeypatch)
        expected = EXPECTED_EXIT.get(" ".join(argv), 0)
        code = main(_runnable(argv, live_server))
        output = capsys.readouterr()
        if code != expected:
            failures.append(f"{document}:{line}: scimharness {' '.join(argv)} exited {code}, expected {expected}:\n"
                            f"{output.err[-500:]}{output.out[-500:]}")
    assert failures == []


@pytest.mark.parametrize("argv", [c[2] for c in COMMANDS if c[2][0] in NOT_RUN], ids=" ".join)
def test_commands_not_run_still_parse(argv):
    args = build_parser().parse_args(argv)          # a renamed or removed flag is a SystemExit here
    assert args.handler


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, its parser) for every command and subcommand."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from _commands(sub, (*path, name))


def test_cli_reference_names_every_command_and_flag():
    reference = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^#+ `scimharness ([^`]+)`\n(.*?)(?=^#+ `scimharness |\Z)", reference, re.S | re.M))
    missing = []
    for path, parser in _commands(build_parser()):
        name = " ".join(path)
        if name not in sections:
            missing.append(f"section for `scimharness {name}`")
            continue
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            for flag in action.option_strings:
                if f"`{flag}`" not in sections[name]:
                    missing.append(f"{name}: {flag}")
    assert missing == []
    assert set(sections) == {" ".join(p) for p, _ in _commands(build_parser())}   # no stale sections


def test_scenario_format_lists_every_action_and_directory_key():
    from harness.scenario_files import ACTIONS, GROUP_KEYS, USER_KEYS
    text = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    assert [a for a in ACTIONS if f"`{a}`" not in text] == []
    assert [k for k in USER_KEYS | GROUP_KEYS if k not in text] == []
