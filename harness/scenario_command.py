"""The `scenarios` command: list the scenarios shipped in harness/scenarios/, or show one with its events."""
from __future__ import annotations

import argparse
import sys
from typing import TextIO

from harness.scenario_files import ScenarioError, format_duration, library, load_scenario
from idp_profiles import PROFILES


def handle_list(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    for name in library():
        scenario = load_scenario(name)
        idps = ", ".join(s.profile + ("" if s.profile in PROFILES else " (not in this build)") for s in scenario.idps)
        out.write(f"{name:<22} {format_duration(scenario.until):>6}  {idps:<28} {scenario.description}\n")
    return 0


def handle_show(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        scenario = load_scenario(args.name)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    d = scenario.directory
    lines = [f"{scenario.name} ({scenario.source})", scenario.description, "",
             f"until: {format_duration(scenario.until)}",
             "directory: " + (f"sample org of {d.users} users, {d.groups} groups, seed {d.seed}" if d.users
                              else "no sample org")
             + (f"; {len(d.explicit_users)} explicit users, {len(d.explicit_groups)} explicit groups"
                if d.explicit_users or d.explicit_groups else ""),
             "idps: " + ", ".join(f"{s.profile} (workspace {s.workspace}{', ' if s.settings else ''}"
                                   + ", ".join(f"{k}={v}" for k, v in s.settings.items()) + ")"
                                   for s in scenario.idps), "events:"]
    for event in sorted(scenario.events, key=lambda e: (e.at, e.index)):
        repeat = f" every {format_duration(event.every)} ×{event.times}" if event.every and event.times > 1 else ""
        params = ", ".join(f"{k}={format_duration(v) if hasattr(v, 'total_seconds') else v}"
                           for k, v in event.params.items())
        lines.append(f"  +{format_duration(event.at):<8} {event.action}{repeat}"
                     + (f" [{event.idp}]" if event.idp else "") + (f": {params}" if params else ""))
    out.write("\n".join(lines) + "\n")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("scenarios", help="list or show the shipped simulation scenarios",
                                   description="Scenarios shipped in harness/scenarios/; run one with "
                                               "`scimharness simulate --scenario NAME`.")
    commands = parser.add_subparsers(dest="scenarios_command", metavar="SUBCOMMAND", required=True)
    commands.add_parser("list", help="one line per shipped scenario").set_defaults(handler=handle_list)
    show = commands.add_parser("show", help="a scenario's directory, IdPs and events")
    show.add_argument("name", metavar="NAME_OR_FILE", help="a shipped scenario's name or a scenario file")
    show.set_defaults(handler=handle_show)
