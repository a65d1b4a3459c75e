"""`python -m bench [--quick]`: every figure in one run, side by side, then the goals judged on those figures.
Throughput against the three targets, scale on a small and a large workspace, and the harness's Entra cycle."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import cycle, scale, throughput
from bench.load import CLIENT_THREADS, Measurement
from bench.targets import TARGETS, WAITRESS_THREADS, running


@dataclass(frozen=True)
class Plan:
    seconds: float             # per measured operation
    max_requests: int
    seed_users: int            # seeded in each throughput target
    small: tuple[int, int]     # (users, group size) of the small workspace
    large: tuple[int, int]
    cycle_users: int
    cycle_groups: int


FULL = Plan(seconds=10, max_requests=50_000, seed_users=1000, small=(1000, scale.SMALL_GROUP),
            large=(100_000, 50_000), cycle_users=10_000, cycle_groups=500)
QUICK = Plan(seconds=3, max_requests=20_000, seed_users=1000, small=(1000, scale.SMALL_GROUP),
             large=(20_000, 10_000), cycle_users=2_000, cycle_groups=500)


def say(text: str = "") -> None:
    print(text, flush=True)


def run_throughput(plan: Plan, workdir: Path) -> dict[str, dict[str, Measurement]]:
    results = {}
    for name in TARGETS:
        with running(name, workdir / f"{name}.db") as (base_url, token, pid):
            population = throughput.seed(base_url, token, plan.seed_users, pid)
            results[name] = throughput.measure_all(base_url, token, pid, population, plan.seconds,
                                                   plan.max_requests)
        say(f"  measured {name}")
    return results


def print_throughput(results: dict[str, dict[str, Measurement]]) -> None:
    ours, peer, bare = (results[t] for t in TARGETS)
    say(f"{'operation':15}{'scimharness':>13}{'scim2-server':>14}{'bare Flask':>12}{'÷ scim2':>9}{'÷ Flask':>9}"
        f"   server CPU ms/req (ours / scim2 / Flask)")
    for op in throughput.OPERATIONS:
        say(f"{op:15}{ours[op].rate:>11.0f}/s{peer[op].rate:>12.0f}/s{bare[op].rate:>10.0f}/s"
            f"{ratio(ours[op].rate, peer[op].rate):>9}{ratio(ours[op].rate, bare[op].rate):>9}"
            f"   {ours[op].cpu_ms_per_request:5.2f} / {peer[op].cpu_ms_per_request:5.2f} / "
            f"{bare[op].cpu_ms_per_request:5.2f}{errors(ours[op], peer[op], bare[op])}")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "—"


def errors(*measurements: Measurement) -> str:
    failed = [m.first_error for m in measurements if m.errors]
    return f"   ERRORS: {failed[0]}" if failed else ""


def run_scale(plan: Plan, workdir: Path) -> dict[str, tuple]:
    results = {}
    for label, (users, group_size) in (("small", plan.small), ("large", plan.large)):
        results[label] = scale.measure_workspace(str(workdir / f"scale-{label}.db"), users, group_size,
                                                 plan.seconds, plan.max_requests)
        say(f"  measured {users:,} users (seeded in {results[label][0].seconds_to_seed:.0f} s)")
    return results


def print_scale(results: dict[str, tuple]) -> None:
    (small, small_figures), (large, large_figures) = results["small"], results["large"]
    say(f"{'operation':38}{f'{small.users:,} users':>14}{f'{large.users:,} users':>16}{'cost ×':>8}"
        f"   median ms        server CPU ms/req")
    for op in scale.OPERATIONS:
        a, b = small_figures[op], large_figures[op]
        label = op if op not in ("member add", "group GET excl. members") else \
            f"{op} ({small.group_size:,}→{large.group_size:,})"
        say(f"{label:38}{a.rate:>12.0f}/s{b.rate:>14.0f}/s{ratio(a.rate, b.rate):>8}"
            f"   {a.median_ms:6.1f} → {b.median_ms:7.1f}   {a.cpu_ms_per_request:6.2f} → "
            f"{b.cpu_ms_per_request:7.2f}{errors(a, b)}")


def run_cycles(plan: Plan) -> dict[str, dict]:
    results = {}
    for transport in cycle.TRANSPORTS:
        results[transport] = cycle.measure(transport, plan.cycle_users, plan.cycle_groups)
        say(f"  measured the {transport} cycle")
    return results


def print_cycles(results: dict[str, dict]) -> None:
    say(f"{'transport':12}{'wall s':>8}{'CPU s':>8}{'requests':>10}{'req/s':>8}{'peak RSS MB':>13}"
        f"{'(before)':>10}   users / groups in target")
    for transport, r in results.items():
        say(f"{transport:12}{r['seconds']:>8.1f}{r['cpu_seconds']:>8.1f}{r['requests']:>10}"
            f"{r['requests'] / r['seconds']:>8.0f}{r['peak_rss_mb']:>13.0f}{r['rss_before_mb']:>10.0f}"
            f"   {r['target_users']} / {r['target_groups']} (directory: {r['directory_groups']} groups)")


def print_goals(plan: Plan, tp: dict, sc: dict, cy: dict) -> None:
    ours, peer, bare = (tp[t] for t in TARGETS)
    small, large = sc["small"][1], sc["large"][1]
    goals = [(f"filter GET ≥ 5× scim2-server", ours["filter GET"].rate / peer["filter GET"].rate, 5, "≥"),
             (f"PATCH ≥ 5× scim2-server", ours["PATCH"].rate / peer["PATCH"].rate, 5, "≥"),
             (f"filter GET ≥ ½ bare Flask", ours["filter GET"].rate / bare["filter GET"].rate, 0.5, "≥")]
    for op in ("filter GET", "GET by id"):
        goals.append((f"{op} at {plan.large[0]:,} within 1.5× of {plan.small[0]:,}",
                      small[op].rate / large[op].rate, 1.5, "≤"))
    in_process = cy["in-process"]["seconds"]
    say(f"{'goal':44}{'measured':>10}   met?")
    for label, value, target, sense in goals:
        met = value >= target if sense == "≥" else value <= target
        say(f"{label:44}{value:>9.2f}×   {'yes' if met else 'NO'}")
    label = f"Entra initial cycle, {plan.cycle_users:,} users, in-process < 60 s"
    verdict = ("yes" if in_process < 60 else "NO") if plan.cycle_users >= 10_000 else "judged on the full run"
    say(f"{label:44}{in_process:>9.1f}s   {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs and smaller sizes (a few minutes)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    say(f"scimharness bench ({'quick' if args.quick else 'full'}): {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}; waitress {WAITRESS_THREADS} threads per target, {CLIENT_THREADS} client "
        f"threads, {plan.seconds:g} s per operation")
    with tempfile.TemporaryDirectory(prefix="scimharness-bench-") as workdir:
        say("\n(a) throughput")
        tp = run_throughput(plan, Path(workdir))
        say("\n(b) scale")
        sc = run_scale(plan, Path(workdir))
    say("\n(c) harness")
    cy = run_cycles(plan)
    say("\n(a) server throughput, requests/s "
        f"({plan.seed_users:,} users and {throughput.SEED_GROUPS} groups seeded in each target)")
    print_throughput(tp)
    say(f"\n(b) scale: scimharness on a small and a large workspace (cost × = small rate ÷ large rate)")
    print_scale(sc)
    say(f"\n(c) harness: Entra initial cycle, {plan.cycle_users:,} users, {plan.cycle_groups} groups asked for")
    print_cycles(cy)
    say(f"\ngoals (load average now {os.getloadavg()[0]:.1f}; run took {time.perf_counter() - started:.0f} s)")
    print_goals(plan, tp, sc, cy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
