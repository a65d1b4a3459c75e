"""The `simulate` command: a scenario (directory, IdPs, timed events) run by the scheduler against a target (the
embedded server or any SCIM base URL), with verification after each cycle and at the end, and reports."""
from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Callable, TextIO

import requests
from requests.adapters import BaseAdapter

from harness import report_files, reports
from harness.clock import SIMULATION_EPOCH, SimulatedClock, WallClock
from harness.directory import Directory
from harness.events import AppliedEvent, EventApplier, IdpBinding, declared_actions
from harness.expectations import Outcome, check_expectations
from harness.faults import FaultPlan
from harness.scenario_files import (ACTIONS, DEFAULT_SCENARIO, DEFAULT_WORKSPACE, IdpSpec, Scenario, ScenarioError,
                                    library, load_scenario, parse_duration)
from harness.scheduler import SimulationScheduler, scheduler_for
from harness.starting_directory import build_directory
from harness.transport import Exchange, ScimClient, TargetUnreachable, WsgiAdapter
from harness.verdicts import SERVER_BUG, judge
from harness.verifier import CORE_USER, Finding, Verification, Verifier, verify_groups
from harness.workspace_checks import CheckLine, check_seed_promises, expected_from_target, seed_activity
from idp_profiles import PROFILES, load_profile
from idp_profiles.base import CycleReport, ExpectedGroup, IdpProfile, ProbeResult

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
ALL_IDPS = "all"


class UsageError(Exception):
    """Bad arguments or scenario, unreachable target or rejected credentials: exit code 2."""


@dataclass
class Target:
    """Where the IdPs send their requests. `token_for(workspace)` is the bearer token of a workspace;
    `rotate_token` and `admin_for` exist only for the embedded server, whose tokens the harness can rotate and
    whose admin API lets it check the seed's workspace promises (access revoked, history kept)."""
    base_url: str
    token_for: Callable[[str], str | None]
    rotate_token: Callable[[str], str] | None = None
    admin_for: Callable[[str], tuple[str, str]] | None = None   # (admin API URL, admin key) of a workspace
    app: Callable | None = None            # the embedded WSGI app, called directly by --in-process runs

    def transport(self) -> BaseAdapter | None:
        """How requests reach the target: the app's WSGI interface in-process, else HTTP (None)."""
        return WsgiAdapter(self.app) if self.app else None


@dataclass
class CycleRecord:
    number: int
    at: datetime
    report: CycleReport
    checks: Verification | None = None        # the objects the cycle claims it synced, read back at once


@dataclass
class IdpRun:
    name: str
    profile: IdpProfile
    workspace: str
    test_connection: ProbeResult | None = None
    cycles: list[CycleRecord] = field(default_factory=list)
    verification: Verification = field(default_factory=Verification)
    links: dict[str, str] = field(default_factory=dict)       # every directory id → target id the IdP held
    history: dict[str, int] = field(default_factory=dict)     # activity seeded per member once it is provisioned
    promises: list[CheckLine] = field(default_factory=list)   # the seed's workspace promises, checked at the end

    def findings(self) -> list[Finding]:
        return [f for c in self.cycles if c.checks for f in c.checks.findings] + self.verification.findings


@dataclass
class SimulationRun:
    scenario: Scenario
    directory: Directory
    target: str
    seed: int
    started: datetime
    until: timedelta
    realtime: bool = False
    idps: list[IdpRun] = field(default_factory=list)
    events: list[AppliedEvent] = field(default_factory=list)
    faults: FaultPlan | None = None
    ended: datetime | None = None
    wall_seconds: float = 0.0
    seeding: list[Exchange] = field(default_factory=list)     # the POSTs of the scenario's [[target.users]]
    outcomes: list[Outcome] = field(default_factory=list)     # its [[expect]]ations, judged after the run

    def findings(self) -> list[Finding]:
        return [f for idp in self.idps for f in idp.findings()]

    @property
    def passed(self) -> bool:
        return not any(f.category == SERVER_BUG for f in self.findings())

    @property
    def exit_code(self) -> int:
        """A scenario with expectations is a reproduction: it succeeds when every logged outcome reproduced."""
        if self.scenario.expectations:
            return EXIT_OK if all(o.reproduced for o in self.outcomes) else EXIT_FINDINGS
        return EXIT_OK if self.passed else EXIT_FINDINGS


# -- choosing the IdPs ------------------------------------------------------------------------------------------
def select_idps(scenario: Scenario, idp: str | None) -> list[IdpSpec]:
    """`--idp NAME` runs that IdP (with the scenario's settings for it), `--idp all` every registered IdP, each in
    its own workspace; without --idp the scenario's own [[idp]] list runs."""
    by_name = {spec.profile: spec for spec in scenario.idps}
    if idp == ALL_IDPS:
        return [replace(by_name.get(name, IdpSpec(name)), workspace=name) for name in PROFILES]
    if idp is not None:
        return [by_name.get(idp, IdpSpec(idp))]
    if not scenario.idps:
        raise UsageError(f"{scenario.source}: the scenario names no [[idp]]; choose one with --idp")
    missing = [s.profile for s in scenario.idps if s.profile not in PROFILES]
    if missing:
        raise UsageError(f"{scenario.source}: the scenario needs the {', '.join(missing)} profile(s), which "
                         f"this build does not have (registered: {', '.join(PROFILES)}); pick one with --idp")
    return list(scenario.idps)


def check_actions(scenario: Scenario) -> None:
    """Every event's action is a core action or one some registered profile declares (a typo is an error)."""
    declared = declared_actions(load_profile(name) for name in PROFILES)
    for event in scenario.events:
        if event.action not in ACTIONS and event.action not in declared:
            raise ScenarioError(scenario.source, event.line, f"events[{event.index - 1}].action",
                                f"unknown action {event.action!r}; core actions: {', '.join(ACTIONS)}"
                                + (f"; profile actions: {', '.join(sorted(declared))}" if declared else ""))


# -- running ----------------------------------------------------------------------------------------------------
class Simulation:
    """Wires a scenario to a target: builds the directory and the profiles, schedules events and cycles on the
    clock, checks each cycle's objects, and verifies every IdP at the end."""

    def __init__(self, scenario: Scenario, target: Target, specs: list[IdpSpec], *, seed: int, timeout: float,
                 clock: SimulatedClock | WallClock, progress: Callable[[datetime], None] | None = None) -> None:
        self.scenario, self.target, self.timeout, self.clock = scenario, target, timeout, clock
        self.progress = progress
        directory = build_directory(scenario.directory, scenario.source)
        self.run = SimulationRun(scenario, directory, target.base_url, seed, clock.now(), scenario.until,
                                 realtime=isinstance(clock, WallClock))
        self.faults = self.run.faults = FaultPlan(clock)
        bindings = [self._bind(spec) for spec in specs]
        self.applier = EventApplier(directory, bindings, self.faults, clock, scenario.source, seed,
                                    target.rotate_token, {b.workspace: target.token_for(b.workspace)
                                                          for b in bindings})
        self.run.events = self.applier.applied
        self.run.idps = [IdpRun(b.name, b.profile, b.workspace) for b in bindings]

    def _bind(self, spec: IdpSpec) -> IdpBinding:
        try:
            profile = load_profile(spec.profile).configure(
                self.run.directory, self.target.base_url, self.target.token_for(spec.workspace), spec.settings,
                self.clock, timeout=self.timeout,
                session=self.faults.session(spec.profile, self.target.transport()))
        except ValueError as exc:
            raise UsageError(f"{self.scenario.source}: idp {spec.profile}: {exc}") from exc
        return IdpBinding(spec.profile, profile, spec.workspace)

    def execute(self) -> SimulationRun:
        started = time.perf_counter()
        try:
            self._seed_target()
            live = [idp for idp in self.run.idps if self._test_connection(idp)]
            if live:
                scheduler = scheduler_for(self.clock)
                self._schedule(scheduler, live)
                scheduler.run_until(self.run.started + self.scenario.until, self.progress)
                for idp in live:
                    self._verify(idp)
        except TargetUnreachable as exc:
            raise UsageError(f"cannot reach the target at {self.target.base_url}: {exc.exchange.error}") from exc
        finally:
            for idp in self.run.idps:         # idle keep-alive connections would hold the target's threads
                idp.profile.client.session.close()
        self.run.outcomes = check_expectations(self.run)
        self.run.ended = self.clock.now()
        self.run.wall_seconds = time.perf_counter() - started
        return self.run

    def _seed_target(self) -> None:
        """POST the users the target already held (an imported log's EntryConflicts) into each IdP's workspace."""
        if not self.scenario.target_users:
            return
        for workspace in dict.fromkeys(idp.workspace for idp in self.run.idps):
            client = ScimClient(self.target.base_url, self.applier.tokens.get(workspace), timeout=self.timeout,
                                session=self._admin_session())
            with client.session:
                for user in self.scenario.target_users:
                    client.post("/Users", {"schemas": [CORE_USER], "active": True, **user}, purpose="seed")
            self.run.seeding += client.trace

    def _test_connection(self, idp: IdpRun) -> bool:
        idp.test_connection = probe = idp.profile.test_connection()
        if probe.unreachable or probe.credentials_rejected:
            raise UsageError(f"{idp.profile.title}: Test Connection failed: {probe.message}")
        if not probe.ok:        # the IdP refuses to start provisioning: the target is at fault, nothing else is sent
            idp.verification.findings.append(judge(Finding(
                "", "Test Connection", "test-connection", f"{probe.error_code}: {probe.message}",
                cause=probe.exchange), idp.name, self.faults))
        return probe.ok

    def _schedule(self, scheduler: SimulationScheduler, idps: list[IdpRun]) -> None:
        start = self.run.started
        for event in self.scenario.events:
            for n, offset in enumerate(event.occurrences()):
                if offset <= self.scenario.until:
                    scheduler.at(start + offset, f"a:{offset.total_seconds():012.0f}:{event.index:04d}:{n:04d}",
                                 lambda e=event: self._apply(scheduler, e, idps))
        for idp in idps:
            cadence = idp.profile.cadence
            if cadence.interval:
                scheduler.every(start, cadence.interval, f"c:cycle:{idp.name}", lambda i=idp: self._cycle(i))
            else:
                scheduler.at(start, f"c:push:{idp.name}", lambda i=idp: self._cycle(i))

    def _apply(self, scheduler: SimulationScheduler, event, idps: list[IdpRun]) -> None:
        applied = self.applier.apply(event)
        if not applied.changed_directory:
            return
        for idp in idps:                 # push-style IdPs send one push shortly after the (first) change
            delay = idp.profile.cadence.delay
            if delay is not None and not scheduler.has_job(f"c:push:{idp.name}"):
                scheduler.at(self.clock.now() + delay, f"c:push:{idp.name}", lambda i=idp: self._cycle(i))

    def _cycle(self, idp: IdpRun) -> None:
        at, before = self.clock.now(), len(idp.profile.cycles)
        try:
            report = idp.profile.run_cycle()
        except TargetUnreachable as exc:
            report = idp.profile.cycles[-1] if len(idp.profile.cycles) > before else CycleReport(
                "incremental" if idp.cycles else "initial")
            report.aborted = f"target unreachable: {exc.exchange.request_line()}: {exc.exchange.error}"
        idp.links.update(idp.profile.links)
        newcomers = [target_id for target_id in idp.links.values() if target_id not in idp.history]
        if newcomers and self.target.admin_for:   # each member gets a history before anyone can deprovision it
            idp.history.update(seed_activity(*self.target.admin_for(idp.workspace), newcomers,
                                             session=self._admin_session()))
        record = CycleRecord(len(idp.cycles) + 1, at, report)
        idp.cycles.append(record)
        failed = {f.object_id for f in report.failures}
        synced = {*report.created, *report.matched, *report.updated, *report.disabled, *report.deleted} - failed
        if synced:
            expected = [e for e in idp.profile.expected_users() if e.object_id in synced]
            record.checks = self._read_back(idp, expected)
            for finding in record.checks.findings:
                judge(finding, idp.name, self.faults)

    def _read_back(self, idp: IdpRun, expected: list, groups: list[ExpectedGroup] = ()) -> Verification:
        """Verify with the service provider's current token, over a connection of its own (no faults)."""
        client = ScimClient(self.target.base_url, self.applier.tokens.get(idp.workspace), timeout=self.timeout,
                            session=self._admin_session())
        with client.session:
            result = Verifier(client).verify_users(expected, idp.profile.trace)
            if groups:
                result.absorb(verify_groups(client, groups, idp.profile.trace, self._labels()))
            return result

    def _check_promises(self, idp: IdpRun) -> None:
        expected = expected_from_target(idp.links, self._target_activity(idp))
        idp.promises = check_seed_promises(*self.target.admin_for(idp.workspace), expected, idp.history,
                                           session=self._admin_session())
        for line in idp.promises:
            if not line.passed:             # the server broke a promise the seed makes: always a server bug
                finding = Finding("", "workspace", "seed-promise", f"{line.name}: {line.detail}")
                finding.category, finding.reason = SERVER_BUG, "the workspace does not keep the seed's promise"
                idp.verification.findings.append(finding)

    def _target_activity(self, idp: IdpRun) -> dict[str, bool]:
        """`active` of every user the target lists in the IdP's workspace, paged like any SCIM client."""
        client = ScimClient(self.target.base_url, self.applier.tokens.get(idp.workspace), timeout=self.timeout,
                            session=self._admin_session())
        active, start = {}, 1
        while True:
            page = client.get("/Users", params={"attributes": "active", "startIndex": str(start), "count": "500"},
                              purpose="verify").response_body
            resources = page.get("Resources") or [] if isinstance(page, dict) else []
            active.update({r["id"]: r.get("active", True) is not False for r in resources if "id" in r})
            start += len(resources)
            if not resources or start > page.get("totalResults", 0):
                return active

    def _admin_session(self) -> requests.Session:
        """The harness's own reads (verifier, admin API): the target's transport, with no fault windows."""
        return FaultPlan(self.clock).session("harness", self.target.transport())

    def _labels(self) -> dict[str, str]:
        users = self.run.directory
        return {uid: users.user(uid).user_principal_name for uid in [*users.users, *users.deleted_users]}

    def _verify(self, idp: IdpRun) -> None:
        idp.verification = self._read_back(idp, idp.profile.expected_users(), idp.profile.expected_groups())
        last = idp.cycles[-1].report if idp.cycles else None
        if last is not None and last.aborted:
            probe = last.probe.exchange if last.probe else None
            idp.verification.findings.insert(0, Finding("", f"{last.kind} cycle", "cycle-aborted", last.aborted,
                                                        cause=probe))
        last_start = idp.cycles[-1].at if idp.cycles else self.run.started
        unsynced = frozenset(i for e in self.run.events if e.at >= last_start for i in e.object_ids)
        latest = {e.subject: e for e in idp.profile.trace if e.subject}
        for finding in idp.verification.findings:
            last = latest.get(finding.object_id)
            if last is not None and not last.ok and (finding.cause is None or last.index > finding.cause.index):
                finding.cause = last      # the IdP's later request failed: that, not the old write, explains it
            judge(finding, idp.name, self.faults, unsynced)
        if self.target.admin_for:
            self._check_promises(idp)


def run_simulation(scenario: Scenario, target: Target, *, idp: str | None = None, seed: int | None = None,
                   timeout: float = 30.0, clock: SimulatedClock | WallClock | None = None,
                   progress: Callable[[datetime], None] | None = None) -> SimulationRun:
    """Run a scenario against a target. Raises UsageError (unreachable target, rejected credentials, unknown
    profile or setting) and ScenarioError (an event that cannot be carried out)."""
    check_actions(scenario)
    specs = select_idps(scenario, idp)
    if seed is not None:
        scenario = replace(scenario, directory=replace(scenario.directory, seed=seed))
    simulation = Simulation(scenario, target, specs, seed=scenario.directory.seed, timeout=timeout,
                            clock=clock or SimulatedClock(SIMULATION_EPOCH), progress=progress)
    return simulation.execute()


# -- the command ------------------------------------------------------------------------------------------------
def embedded_target(stack: ExitStack, in_process: bool = False) -> Target:
    """A fresh embedded server: over loopback HTTP, or its bare app called directly (`--in-process`)."""
    from server.embedded import EmbeddedApp, EmbeddedServer      # lazily: a --target run never loads the server
    server = stack.enter_context(EmbeddedApp() if in_process else EmbeddedServer())   # token: "default" workspace
    tokens: dict[str, str] = {DEFAULT_WORKSPACE: server.token}

    def rotate(workspace: str) -> str:
        from server.storage import Store
        from server.tokens import generate_token
        tokens[workspace] = generate_token(Store(server.db_path), workspace)
        return tokens[workspace]

    def admin(workspace: str) -> tuple[str, str]:
        from server.admin_keys import generate_admin_key
        from server.storage import Store
        if workspace not in admin_keys:
            admin_keys[workspace] = generate_admin_key(Store(server.db_path), workspace)
        return server.admin_base_url, admin_keys[workspace]

    admin_keys: dict[str, str] = {DEFAULT_WORKSPACE: server.admin_key}
    return Target(server.base_url, lambda ws: tokens[ws] if ws in tokens else rotate(ws), rotate, admin,
                  server.app if in_process else None)


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    scenario = load_scenario(args.scenario or DEFAULT_SCENARIO)
    sample = scenario.directory
    if args.users is not None or args.groups is not None:
        if sample.users is None:
            raise UsageError(f"{scenario.source}: --users/--groups resize the sample org, and this scenario "
                             "has none")
        sample = replace(sample, users=args.users or sample.users,
                         groups=sample.groups if args.groups is None else args.groups)
    until = parse_duration(args.until) if args.until else scenario.until
    return replace(scenario, directory=sample, until=until)


def _check_arguments(args: argparse.Namespace) -> None:
    if args.idp is None and args.scenario is None:
        raise UsageError("choose an IdP with --idp (entra, …, all) or a scenario with --scenario")
    if args.users is not None and args.users < 1:
        raise UsageError("--users must be at least 1")
    if args.token and not args.target:
        raise UsageError("--token only makes sense with --target")
    if args.in_process and args.target:
        raise UsageError("--in-process drives the embedded server; it cannot be combined with --target")
    if args.speed is not None and not args.realtime:
        raise UsageError("--speed only applies to --realtime runs (virtual time runs as fast as it can)")
    if args.until:
        try:
            parse_duration(args.until)
        except ValueError as exc:
            raise UsageError(f"--until: {exc}") from exc


def handle(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        _check_arguments(args)
        scenario = scenario_from_args(args)
        with ExitStack() as stack:
            if args.target:
                target = Target(args.target, lambda _workspace: args.token)
            else:
                target = embedded_target(stack, args.in_process)
            clock = WallClock(args.speed or 1.0) if args.realtime else SimulatedClock(SIMULATION_EPOCH)
            progress = reports.ProgressLine(sys.stderr, clock.now(), scenario.until)
            run = run_simulation(scenario, target, idp=args.idp, seed=args.seed, timeout=args.timeout,
                                 clock=clock, progress=progress if progress.enabled else None)
            progress.finish()
    except (UsageError, ScenarioError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    out.write(reports.console_summary(run))
    report_files.write_requested(run, report=args.report, junit=args.junit, trace=args.trace)
    return run.exit_code


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate", help="replay an IdP's provisioning traffic against a SCIM target and verify the result",
        description="Run a scenario: a directory, one or more IdPs and timed events (joiners, movers, leavers, "
                    "group changes, token rotation, injected faults) on a simulated clock (a week of Entra's "
                    "40-minute cycles in seconds), against the embedded server or any SCIM 2.0 target; check "
                    f"each cycle and verify the end state. Without --scenario the '{DEFAULT_SCENARIO}' scenario "
                    "runs: Test Connection, an initial cycle, a rename + a disable + a hard delete, an incremental "
                    "cycle. Exit status: 0 when the target ended up right (expected refusals and harness "
                    "limitations are reported but pass), 1 when verification found server bugs, 2 on usage or "
                    "scenario errors, an unreachable target or rejected credentials. A scenario with [[expect]] (one "
                    "written by `import entra-logs`) is a reproduction: its [[target.users]] are created on the "
                    "target first, each logged outcome is reported as reproduced or not, with a verdict line "
                    "'Reproduced N of M logged outcomes', and the exit status is 0 only when all of them "
                    "reproduced (1 otherwise; findings are still listed).")
    parser.add_argument("--scenario", metavar="NAME_OR_FILE",
                        help=f"a shipped scenario ({', '.join(library())}) or a .toml/.json file "
                             f"(default {DEFAULT_SCENARIO}; `scimharness scenarios list`)")
    parser.add_argument("--idp", choices=[*sorted(PROFILES), ALL_IDPS],
                        help="which identity provider to simulate; 'all' runs every registered one, each in its "
                             "own workspace (default: the scenario's [[idp]] list)")
    parser.add_argument("--target", metavar="BASE_URL",
                        help="SCIM base URL to drive, e.g. https://host/scim/v2 (default: start the embedded "
                             "server on a free loopback port with a temporary database)")
    parser.add_argument("--in-process", action="store_true",
                        help="call the embedded server's WSGI app directly instead of over loopback HTTP: the "
                             "same requests and responses, no sockets; for large organisations")
    parser.add_argument("--token", metavar="TOKEN",
                        help="bearer token for --target (omit for a target that needs none)")
    parser.add_argument("--users", type=int, metavar="N",
                        help="users in the sample organisation (default: the scenario's; 200 by default)")
    parser.add_argument("--groups", type=int, metavar="N",
                        help="groups in the sample organisation (default: the scenario's; 15 by default)")
    parser.add_argument("--seed", type=int, metavar="S",
                        help="seed of the sample organisation and of the events' random picks (default: the "
                             "scenario's, 0)")
    parser.add_argument("--until", metavar="DURATION",
                        help="simulated duration, e.g. 40m, 12h, 7d (default: the scenario's `until`)")
    parser.add_argument("--realtime", action="store_true",
                        help="run on the wall clock with a real background scheduler (soak runs against a live "
                             "target) instead of virtual time")
    parser.add_argument("--speed", type=float, metavar="X",
                        help="with --realtime: simulated seconds per wall second, e.g. 60 (default 1)")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="per-request timeout (default 30)")
    parser.add_argument("--report", metavar="FILE.json",
                        help="write every cycle, request, response and finding as JSON")
    parser.add_argument("--junit", metavar="FILE.xml", help="write a JUnit XML report for CI systems")
    parser.add_argument("--trace", metavar="FILE.jsonl", help="write every exchange, one JSON object a line")
    parser.set_defaults(handler=handle)
