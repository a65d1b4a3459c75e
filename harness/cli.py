"""The `scimharness` command: one argparse parser, each command contributed by the module that owns it.
A module joins by exposing `register(subparsers)`, which adds its parser and sets `handler(args) -> exit code`."""
from __future__ import annotations

import argparse
import importlib
import sys

# Modules that contribute commands, in the order `--help` lists them.
COMMAND_MODULES = (
    "harness.simulate",
    "harness.scenario_command",
    "harness.record", "harness.replay", "harness.shrink", "harness.imports", "harness.redact",
    "server.cli",
    "server.admin_cli",
    "harness.soak",
    "harness.docs_check",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scimharness",
        description="Simulate Entra ID, Okta and OneLogin provisioning against a SCIM 2.0 service and verify "
                    "the result; or run the SCIM service itself.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
