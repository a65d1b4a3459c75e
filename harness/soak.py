"""The `soak` command: every registered IdP profile, each in its own workspace, against one `scimharness serve`
process for a bounded time, through fault windows (server stalled, server killed and restarted), sampling the
server's memory; at the end every profile's expected state is verified against the server."""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests

from harness.sample_org import generate_org
from harness.transport import ScimClient, TargetUnreachable
from harness.verifier import Verifier
from idp_profiles import PROFILES, load_profile

ROOT = Path(__file__).resolve().parents[1]
FAULTS = ("stall", "crash")
SETTLE_CYCLES = 3            # clean cycles after the last fault, to drain every profile's escrow
MEMORY_SLACK_KB = 20 * 1024  # growth allowed between the first and last third of the run
MEMORY_SLACK_RATIO = 0.2


@dataclass
class ProfileTally:
    cycles: int = 0
    requests: int = 0
    unreachable: int = 0       # cycles cut short because the server did not answer (expected in fault windows)
    failures: int = 0          # objects an IdP escrowed
    server_errors: int = 0     # 5xx answers: the server must never give one
    findings: list[str] = field(default_factory=list)          # the target acknowledged it, yet holds otherwise
    left_failed: list[str] = field(default_factory=list)       # the IdP's own failed task, never retried


@dataclass
class SoakReport:
    seconds: float
    profiles: dict[str, ProfileTally]
    faults: list[str]
    rss_kb: list[tuple[float, int, int]]  # (seconds since start, server generation, resident KiB)

    def memory_growth_kb(self) -> tuple[int, int]:
        """(growth, baseline): peak RSS of the last third of the longest-lived server process over the first
        third's. A crash window restarts the server with fresh memory, so lives are not mixed."""
        generations: dict[int, list[int]] = {}
        for _, generation, kb in self.rss_kb:
            generations.setdefault(generation, []).append(kb)
        life = max(generations.values(), key=len, default=[])
        if not life:
            return 0, 0
        third = max(len(life) // 3, 1)
        return max(life[-third:]) - max(life[:third]), max(life[:third])

    @property
    def memory_flat(self) -> bool:
        growth, baseline = self.memory_growth_kb()
        return growth <= max(MEMORY_SLACK_KB, MEMORY_SLACK_RATIO * baseline)

    @property
    def ok(self) -> bool:
        tallies = self.profiles.values()
        return self.memory_flat and not any(t.server_errors or t.findings for t in tallies)


class ServerProcess:
    """`scimharness serve` on a database, which the soak stalls (SIGSTOP), kills and restarts on the same port."""

    def __init__(self, db_path: str):
        self.db_path = db_path
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/scim/v2"
        self.process: subprocess.Popen | None = None
        self.generation = 0

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--db", self.db_path,
                                         "--port", str(self.port)], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.generation += 1
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(self.base_url + "/ServiceProviderConfig", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError("scimharness serve did not start")

    def signal(self, signum: int) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signum)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        if self.process:
            self.process.wait(timeout=10)

    def rss_kb(self) -> int:
        with open(f"/proc/{self.process.pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def _workspaces(db_path: str, names: list[str]) -> dict[str, str]:
    """A workspace and SCIM token per profile, so the IdPs share the server but not their data."""
    from server.storage import Store
    from server.tokens import generate_token

    store = Store(db_path)
    try:
        return {name: generate_token(store, f"soak-{name}") for name in names}
    finally:
        store.close()


def _churn(directory, rng: random.Random, round_: int) -> None:
    """A few directory changes per round: renames, and users disabled and enabled again."""
    user_ids = sorted(directory.users)
    for object_id in rng.sample(user_ids, min(3, len(user_ids))):
        user = directory.users[object_id]
        directory.update_user(object_id, surname=f"Soak{round_}", display_name=f"{user.given_name} Soak{round_}")
    toggled = rng.choice(user_ids)
    if directory.users[toggled].account_enabled:
        directory.disable_user(toggled)
    else:
        directory.enable_user(toggled)


def _cycle(profile, tally: ProfileTally) -> None:
    sent = len(profile.trace)
    try:
        report = profile.run_cycle()
        tally.failures += len(report.failures)
    except TargetUnreachable:
        tally.unreachable += 1
    tally.cycles += 1
    tally.requests += len(profile.trace) - sent
    tally.server_errors += sum(1 for e in profile.trace[sent:] if e.status is not None and e.status >= 500)


def run_soak(minutes: float, *, users: int = 30, fault_every: float = 20.0, fault_seconds: float = 3.0,
             faults: tuple[str, ...] = FAULTS, seed: int = 0, db_path: str | None = None, out=None) -> SoakReport:
    """Drive every profile in `idp_profiles.PROFILES` until `minutes` have passed, then settle and verify."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="scimharness-soak-") as scratch:
        server = ServerProcess(db_path or str(Path(scratch) / "soak.db"))
        tokens = _workspaces(server.db_path, sorted(PROFILES))
        server.start()
        profiles = {name: load_profile(name).configure(generate_org(seed=seed + i, users=users, groups=3),
                                                       server.base_url, token, timeout=max(fault_seconds / 2, 0.5))
                    for i, (name, token) in enumerate(tokens.items())}
        report = SoakReport(0.0, {name: ProfileTally() for name in profiles}, [], [])
        started = time.monotonic()
        next_fault, round_ = started + fault_every, 0
        try:
            while time.monotonic() - started < minutes * 60:
                round_ += 1
                fault = faults[len(report.faults) % len(faults)] if faults and time.monotonic() >= next_fault else None
                if fault:
                    _begin_fault(server, fault)
                    report.faults.append(f"{fault} at {time.monotonic() - started:.0f}s")
                for name, profile in profiles.items():
                    _cycle(profile, report.profiles[name])
                    _churn(profile.directory, rng, round_)
                if fault:
                    time.sleep(max(fault_seconds - (time.monotonic() - next_fault), 0))
                    _end_fault(server, fault)
                    next_fault = time.monotonic() + fault_every
                report.rss_kb.append((round(time.monotonic() - started, 1), server.generation, server.rss_kb()))
                if out:
                    print(f"round {round_}: {time.monotonic() - started:.0f}s, server RSS {report.rss_kb[-1][2]} KiB",
                          file=out, flush=True)
            _settle_and_verify(profiles, report)
        finally:
            server.kill()
        report.seconds = round(time.monotonic() - started, 1)
        return report


def _begin_fault(server: ServerProcess, fault: str) -> None:
    if fault == "stall":
        server.signal(signal.SIGSTOP)   # the server hangs: requests time out
    else:
        server.kill()                   # the server crashes: connections are refused


def _end_fault(server: ServerProcess, fault: str) -> None:
    if fault == "stall":
        server.signal(signal.SIGCONT)
    else:
        server.start()


def _settle_and_verify(profiles: dict, report: SoakReport) -> None:
    for _ in range(SETTLE_CYCLES):
        for name, profile in profiles.items():
            _cycle(profile, report.profiles[name])
    for name, profile in profiles.items():
        client = ScimClient(profile.client.base_url, profile.client._token)
        verification = Verifier(client).verify_users(profile.expected_users(), profile.trace)
        last_sent = {e.subject: e for e in profile.trace if e.subject}
        for finding in verification.findings:
            # Okta and OneLogin leave a task failed (their admin view shows it) until the user changes again; only
            # a target that acknowledged the IdP's latest request for the user and then holds otherwise is at fault.
            latest = last_sent.get(finding.object_id)
            acknowledged = latest is None or latest.ok
            kept = report.profiles[name].findings if acknowledged else report.profiles[name].left_failed
            kept.append(f"{finding.label}: {finding.message}")


def summary(report: SoakReport) -> str:
    lines = [f"soak: {report.seconds:.0f}s, profiles {', '.join(report.profiles)}, "
             f"fault windows {len(report.faults)} ({', '.join(report.faults) or 'none'})"]
    for name, tally in report.profiles.items():
        lines.append(f"  {name}: {tally.cycles} cycles, {tally.requests} requests, {tally.unreachable} cut short by "
                     f"faults, {tally.failures} escrowed, {tally.server_errors} server 5xx, "
                     f"{len(tally.findings)} verification findings, "
                     f"{len(tally.left_failed)} left failed by the IdP after a fault")
        lines += [f"    {finding}" for finding in tally.findings[:10]]
    samples = [kb for _, _, kb in report.rss_kb]
    lines.append(f"  server RSS: {min(samples, default=0)}-{max(samples, default=0)} KiB over {len(samples)} samples; "
                 f"growth {report.memory_growth_kb()[0]} KiB in its longest life "
                 f"({'flat' if report.memory_flat else 'GROWING'})")
    lines.append("PASS" if report.ok else "FAIL")
    return "\n".join(lines) + "\n"


def handle(args: argparse.Namespace) -> int:
    faults = tuple(f for f in args.faults.split(",") if f)
    unknown = set(faults) - set(FAULTS)
    if unknown or args.minutes <= 0:
        print(f"error: --minutes must be positive and --faults a list of {', '.join(FAULTS)}", file=sys.stderr)
        return 2
    report = run_soak(args.minutes, users=args.users, fault_every=args.fault_every, fault_seconds=args.fault_seconds,
                      faults=faults, seed=args.seed, out=sys.stderr if args.progress else None)
    if args.json:
        print(json.dumps({**asdict(report), "memory_growth_kb": report.memory_growth_kb()[0],
                          "memory_flat": report.memory_flat, "ok": report.ok}, indent=2))
    else:
        sys.stdout.write(summary(report))
    return 0 if report.ok else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "soak", help="run every registered IdP against one server for a while, through faults, then verify",
        description="Start `scimharness serve` on a scratch database and drive every registered IdP profile "
                    f"({', '.join(sorted(PROFILES))}), each in its own workspace, for --minutes; every --fault-every "
                    "seconds the server is stalled (SIGSTOP) or killed and restarted for --fault-seconds. The "
                    "server's RSS is sampled every round. Afterwards each profile settles and is verified. Exit 0 "
                    "when no 5xx was seen, memory stayed flat and every profile verifies; 1 otherwise.")
    parser.add_argument("--minutes", type=float, default=5.0, help="how long to run (default %(default)s)")
    parser.add_argument("--users", type=int, default=30, help="users in each IdP's directory (default %(default)s)")
    parser.add_argument("--fault-every", type=float, default=20.0, metavar="SECONDS",
                        help="seconds between fault windows (default %(default)s)")
    parser.add_argument("--fault-seconds", type=float, default=3.0, metavar="SECONDS",
                        help="length of a fault window (default %(default)s)")
    parser.add_argument("--faults", default=",".join(FAULTS),
                        help="fault kinds to cycle through, comma-separated (default %(default)s; '' for none)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the directories and churn (default 0)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--progress", action="store_true", help="print a line per round on stderr")
    parser.set_defaults(handler=handle)
