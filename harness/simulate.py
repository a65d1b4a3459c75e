"""The `simulate` command: sample org → IdP profile → target (embedded server or any SCIM base URL) → verifier.
Runs Test Connection, an initial cycle, the built-in directory changes, one incremental cycle, then verifies."""
from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TextIO

from harness import reports
from harness.directory import Directory
from harness.sample_org import DEFAULT_GROUPS, DEFAULT_USERS, generate_org
from harness.scenarios import AppliedChange, walking_skeleton_changes
from harness.transport import ScimClient, TargetUnreachable
from harness.verifier import Finding, Verification, Verifier
from idp_profiles import PROFILES, load_profile
from idp_profiles.base import CycleReport, IdpProfile, ProbeResult

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments, unreachable target or rejected credentials: exit code 2."""


@dataclass
class SimulationRun:
    profile: IdpProfile
    directory: Directory
    target: str
    seed: int
    test_connection: ProbeResult | None = None
    cycles: list[CycleReport] = field(default_factory=list)
    changes: list[AppliedChange] = field(default_factory=list)
    verification: Verification = field(default_factory=Verification)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.verification.ok else EXIT_FINDINGS


def run_simulation(idp: str, base_url: str, token: str | None, *, users: int = DEFAULT_USERS,
                   groups: int = DEFAULT_GROUPS, seed: int = 0, timeout: float = 30.0) -> SimulationRun:
    """Drive one target. Raises UsageError for an unreachable target or rejected credentials."""
    directory = generate_org(seed=seed, users=users, groups=groups)
    profile = load_profile(idp).configure(directory, base_url, token, timeout=timeout)
    run = SimulationRun(profile, directory, base_url, seed)
    try:
        run.test_connection = probe = profile.test_connection()
        if probe.unreachable or probe.credentials_rejected:
            raise UsageError(f"Test Connection failed: {probe.message}")
        if not probe.ok:
            # Entra quarantines the job: nothing else is sent. The target is at fault, not the user.
            run.verification.findings.append(Finding(
                "", "Test Connection", "test-connection", f"{probe.error_code}: {probe.message}",
                cause=probe.exchange))
            return run
        run.cycles.append(profile.run_cycle())
        run.changes = walking_skeleton_changes(directory, seed)
        run.cycles.append(profile.run_cycle())
        verifier = Verifier(ScimClient(base_url, token, timeout=timeout))
        run.verification = verifier.verify_users(profile.expected_users(), profile.trace)
        for cycle in run.cycles:
            if cycle.aborted:
                run.verification.findings.insert(0, Finding(
                    "", f"{cycle.kind} cycle", "test-connection", cycle.aborted,
                    cause=cycle.probe.exchange if cycle.probe else None))
    except TargetUnreachable as exc:
        raise UsageError(f"cannot reach the target at {base_url}: {exc.exchange.error}") from exc
    return run


def handle(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if args.users < 1:
        print("error: --users must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    if args.token and not args.target:
        print("error: --token only makes sense with --target", file=sys.stderr)
        return EXIT_USAGE
    with ExitStack() as stack:
        if args.target:
            base_url, token = args.target, args.token
        else:
            try:
                from server.embedded import EmbeddedServer   # lazily: --target works without the server
            except ImportError as exc:
                print(f"error: the embedded SCIM server is not available ({exc}); use --target URL",
                      file=sys.stderr)
                return EXIT_USAGE
            server = stack.enter_context(EmbeddedServer())
            base_url, token = server.base_url, server.token
        try:
            run = run_simulation(args.idp, base_url, token, users=args.users, groups=args.groups,
                                 seed=args.seed, timeout=args.timeout)
        except UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    out.write(reports.console_summary(run))
    if args.trace:                   # the IdP's own traffic, not the verifier's reads
        from harness.trace import Trace, write_trace
        write_trace(args.trace, Trace(run.profile.trace, source=f"simulate --idp {args.idp}", base_url=run.target))
    return run.exit_code


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate", help="replay an IdP's provisioning traffic against a SCIM target and verify the result",
        description="Generate a sample organisation, replay an IdP's provisioning against a SCIM 2.0 target "
                    "(Test Connection, an initial cycle, a rename + a disable + a hard delete, an incremental "
                    "cycle), then read the target back and verify it. Exit status: 0 when the target ended up "
                    "right, 1 when verification found failures, 2 on usage errors, an unreachable target or "
                    "rejected credentials.")
    parser.add_argument("--idp", required=True, choices=sorted(PROFILES),
                        help="which identity provider to simulate")
    parser.add_argument("--target", metavar="BASE_URL",
                        help="SCIM base URL to drive, e.g. https://host/scim/v2 (default: start the embedded "
                             "server on a free loopback port with a temporary database)")
    parser.add_argument("--token", metavar="TOKEN",
                        help="bearer token for --target (omit for a target that needs none)")
    parser.add_argument("--users", type=int, default=DEFAULT_USERS, metavar="N",
                        help=f"users in the sample organisation (default {DEFAULT_USERS})")
    parser.add_argument("--groups", type=int, default=DEFAULT_GROUPS, metavar="N",
                        help=f"groups in the sample organisation (default {DEFAULT_GROUPS}; not provisioned yet)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="seed of the sample organisation and of the directory changes (default 0)")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="per-request timeout (default 30)")
    parser.add_argument("--trace", metavar="FILE", help="write the IdP's exchanges to FILE (docs/trace-format.md)")
    parser.set_defaults(handler=handle)
