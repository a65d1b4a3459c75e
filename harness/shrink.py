"""The `shrink` command: delta debugging (ddmin) of a failing trace or imported-log scenario down to a minimal one
that still fails the same way on a fresh target, written out as a trace or scenario of its own."""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, Callable, ContextManager, Sequence, TypeVar

from harness.replay import Divergence, add_target_arguments, replay_trace, target_or_embedded
from harness.trace import Trace, TraceError, read_trace, renumbered, write_trace
from harness.transport import Exchange

T = TypeVar("T")
TargetFactory = Callable[[], ContextManager[tuple[str, "str | None"]]]
IDENTIFYING_KEYS = frozenset({"id", "value", "username", "displayname", "externalid"})


def ddmin(items: Sequence[T], fails: Callable[[list[T]], bool]) -> list[T]:
    """Zeller's ddmin: a 1-minimal sub-list of `items` (which must fail) for which `fails` still holds."""
    items, chunks = list(items), 2
    while len(items) >= 2:
        size = -(-len(items) // chunks)
        parts = [items[i:i + size] for i in range(0, len(items), size)]
        for index, part in enumerate(parts):
            if fails(part):
                items, chunks = part, 2
                break
            complement = [item for other, p in enumerate(parts) if other != index for item in p]
            if len(parts) > 2 and fails(complement):
                items, chunks = complement, max(chunks - 1, 2)
                break
        else:
            if chunks >= len(items):
                break
            chunks = min(chunks * 2, len(items))
    return items


def fresh_embedded_server() -> ContextManager[tuple[str, str | None]]:
    return target_or_embedded(None, None)


def _target_factory(args: argparse.Namespace) -> TargetFactory:
    """The --target for every trial (the shrinker then deletes what each created), or a fresh embedded server each."""
    return lambda: target_or_embedded(args.target, args.token)


class TraceShrinker:
    """Shrinks a trace to the fewest exchanges whose replay still diverges first with the same signature."""

    def __init__(self, trace: Trace, target: TargetFactory = fresh_embedded_server, timeout: float = 30.0,
                 shared_target: bool = False) -> None:
        self.trace = trace
        self.target = target
        self.timeout = timeout
        self.shared_target = shared_target     # the same target for every trial: clean up after each
        self.trials = 0

    def first_divergence(self, exchanges: list[Exchange]) -> Divergence | None:
        self.trials += 1
        with self.target() as (base_url, token):
            report = replay_trace(Trace(exchanges), base_url, token, timeout=self.timeout, stop_at_first=True)
            if self.shared_target:
                delete_created(report.replayed, base_url, token, self.timeout)
        return report.first

    def shrink(self) -> tuple[list[Exchange], Divergence]:
        """The minimal exchanges and their (unchanged) first divergence. ValueError when the trace replays clean."""
        original = self.first_divergence(self.trace.exchanges)
        if original is None:
            raise ValueError("the trace replays without divergence: nothing to shrink")
        culprit = self.trace.exchanges[original.index]
        before = self.trace.exchanges[:original.index]

        def fails(kept: list[Exchange]) -> bool:
            found = self.first_divergence(kept + [culprit])
            return found is not None and found.index == len(kept) and found.signature() == original.signature()

        related = related_exchanges(before, culprit)
        start = related if fails(related) else before
        kept = ddmin(start, fails) if start and not fails([]) else []
        return kept + [culprit], original


def related_exchanges(before: list[Exchange], culprit: Exchange) -> list[Exchange]:
    """The exchanges that share an identifier (id, userName, displayName, externalId, member value) with the culprit,
    directly or through other such exchanges: a slice worth trying before ddmin over everything."""
    wanted = identifiers(culprit)
    chosen: set[int] = set()
    grew = True
    while grew:
        grew = False
        for position, exchange in enumerate(before):
            names = identifiers(exchange)
            if position not in chosen and names & wanted:
                chosen.add(position)
                wanted |= names
                grew = True
    return [exchange for position, exchange in enumerate(before) if position in chosen]


def identifiers(exchange: Exchange) -> set[str]:
    location, _, query = exchange.path.partition("?")
    found = {segment.lower() for segment in location.split("/")[2:] if segment}
    found |= {value.lower() for value in re.findall(r'(?:%22|")([^"%]+)(?:%22|")', query)}
    for body in (exchange.request_body, exchange.response_body):
        found |= _identifying_values(body)
    return found


def _identifying_values(body: Any) -> set[str]:
    if isinstance(body, list):
        return set().union(*(_identifying_values(item) for item in body)) if body else set()
    if not isinstance(body, dict):
        return set()
    found = {str(value).lower() for key, value in body.items()
             if key.lower() in IDENTIFYING_KEYS and isinstance(value, str)}
    for value in body.values():
        if isinstance(value, (dict, list)):
            found |= _identifying_values(value)
    return found


def handle(args: argparse.Namespace) -> int:
    source = Path(args.input)
    if source.suffix.lower() in (".toml", ".json") and not _looks_like_trace(source):
        return shrink_scenario_file(source, args)
    try:
        trace = read_trace(source)
    except (OSError, TraceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    shrinker = TraceShrinker(trace, _target_factory(args), args.timeout, shared_target=bool(args.target))
    try:
        kept, divergence = shrinker.shrink()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out = args.out or str(source.with_suffix("")) + ".min.jsonl"
    write_trace(out, Trace(renumbered(kept), source=f"shrink {source.name}", base_url=trace.base_url))
    print(f"Shrunk {len(trace.exchanges)} exchanges to {len(kept)} in {shrinker.trials} replays; wrote {out}\n"
          f"Still fails the same way:\n{divergence.describe()}")
    return 0


def shrink_scenario_file(source: Path, args: argparse.Namespace) -> int:
    """A scenario imported from provisioning logs: the fewest logged changes reproducing the same failures."""
    from harness.entra_logs import dump_scenario, load_scenario_data, shrink_scenario, to_toml
    from harness.expectations import reproduced_failures
    from harness.scenario_files import ScenarioError, parse_scenario
    from harness.simulate import Target, UsageError, run_simulation
    scenario = load_scenario_data(source)
    if "expect" not in scenario:
        print("error: only scenarios imported from provisioning logs (with [[expect]]) can be shrunk for now",
              file=sys.stderr)
        return 2
    target = _target_factory(args)

    def run(candidate: dict) -> frozenset:
        with target() as (base_url, token):
            run = run_simulation(parse_scenario(to_toml(candidate), str(source)),
                                 Target(base_url, lambda _workspace: token), timeout=args.timeout)
            if args.target:
                delete_created(run.seeding + [e for idp in run.idps for e in idp.profile.trace], base_url, token,
                               args.timeout)
        return reproduced_failures(run.outcomes)
    try:
        kept, runs = shrink_scenario(scenario, run)
    except (ValueError, ScenarioError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out = args.out or str(source.with_suffix("")) + ".min" + source.suffix
    dump_scenario(kept, out)
    print(f"Shrunk {len(scenario['expect'])} logged changes to {len(kept['expect'])} in {runs} runs; wrote {out}")
    return 0


def _looks_like_trace(path: Path) -> bool:
    with open(path, encoding="utf-8") as source:
        first = source.readline()
    try:
        return json.loads(first).get("format") is not None
    except (ValueError, AttributeError):
        return False


def delete_created(replayed: list[Exchange], base_url: str, token: str | None, timeout: float) -> None:
    """Undo a trial on a shared target: DELETE, newest first, every resource a replayed POST created. Best effort:
    a target that ignores DELETE, or state a trial changed without creating it, stays behind."""
    from harness.transport import ScimClient, TargetUnreachable
    client = ScimClient(base_url, token, timeout=timeout)
    for exchange in reversed(replayed):
        body = exchange.response_body
        if exchange.method == "POST" and exchange.ok and isinstance(body, dict) and isinstance(body.get("id"), str):
            try:
                client.delete(f"{exchange.path.partition('?')[0].rstrip('/')}/{body['id']}")
            except TargetUnreachable:
                return


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "shrink", help="reduce a failing trace or imported scenario to a minimal one that fails the same way",
        description="Delta debugging (ddmin): replays subsets of a trace, each on a fresh target, keeping the "
                    "smallest one whose first divergence has the same signature (request kind, recorded and "
                    "replayed status, divergence kind); or, for a scenario imported from Entra provisioning logs, "
                    "the fewest events that still reproduce the same logged failures. Writes the minimal case.")
    parser.add_argument("input", metavar="TRACE_OR_SCENARIO")
    add_target_arguments(parser)
    parser.add_argument("--out", metavar="FILE", help="where to write the minimal case (default: INPUT.min.*)")
    parser.set_defaults(handler=handle)
