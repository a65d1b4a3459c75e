"""The harness's own cost: wall time and peak memory of an Entra initial cycle for a large sample organisation,
over loopback HTTP (the embedded server) or in-process (the WSGI app called directly). One run per process."""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

TRANSPORTS = ("http", "in-process")


def run_cycle(transport: str, users: int, groups: int) -> dict:
    from harness.sample_org import generate_org
    from harness.simulate import embedded_target
    from harness.transport import ScimClient, in_process_session
    from idp_profiles import load_profile
    from server.embedded import DEFAULT_WORKSPACE, IN_PROCESS_ORIGIN

    directory = generate_org(seed=0, users=users, groups=groups)
    for group_id in list(directory.groups):   # assigned groups: Entra creates them, then adds members by PATCH
        directory.assign(group_id)
    with_groups = sum(1 for g in directory.groups.values() if g.member_ids)
    with ExitStack() as stack:
        server = embedded_target(stack, transport == "in-process")
        session = in_process_session(server.app, IN_PROCESS_ORIGIN) if server.app else None
        token = server.token_for(DEFAULT_WORKSPACE)
        rss_before = _peak_rss_mb()
        profile = load_profile("entra").configure(directory, server.base_url, token, session=session)
        started, cpu_started = time.perf_counter(), time.process_time()
        cycle = profile.run_cycle()
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        peak = _peak_rss_mb()
        reader = ScimClient(server.base_url, token, session=session)
        counts = {kind: reader.get(f"/{kind}", params={"count": "0"}).response_body["totalResults"]
                  for kind in ("Users", "Groups")}
    return {"transport": transport, "seconds": seconds, "cpu_seconds": cpu_seconds, "requests": len(profile.trace),
            "created": len(cycle.created), "failures": len(cycle.failures), "directory_groups": len(directory.groups),
            "directory_groups_with_members": with_groups, "target_users": counts["Users"],
            "target_groups": counts["Groups"], "rss_before_mb": rss_before, "peak_rss_mb": peak}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # Linux reports KiB


def measure(transport: str, users: int, groups: int) -> dict:
    """Run one cycle in a fresh interpreter, so its peak memory is its own."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.cycle", transport, "--users", str(users), "--groups", str(groups)],
        capture_output=True, text=True, cwd=Path(__file__).parent.parent, timeout=1800)
    if completed.returncode:
        raise RuntimeError(f"the {transport} cycle failed:\n{completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description="time one Entra initial cycle")
    parser.add_argument("transport", choices=TRANSPORTS)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=500)
    args = parser.parse_args()
    print(json.dumps(run_cycle(args.transport, args.users, args.groups)))


if __name__ == "__main__":
    main()
