"""Reports of a simulation run a human reads: the console summary after `scimharness simulate` and the progress
line during long runs. Events, cycles, requests by status, IdP-side failures, and findings judged and explained."""
from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

from harness.expectations import verdict
from harness.scenario_files import format_duration
from harness.transport import Exchange
from harness.verdicts import CATEGORIES

if TYPE_CHECKING:
    from harness.events import AppliedEvent
    from harness.simulate import IdpRun, SimulationRun
    from harness.verifier import Finding, Verification
    from idp_profiles.base import ProvisioningFailure

BODY_LIMIT = 600


def _body(body: Any) -> str:
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return text if len(text) <= BODY_LIMIT else text[:BODY_LIMIT] + f"… ({len(text)} chars)"


def describe_exchange(exchange: Exchange, indent: str) -> list[str]:
    lines = [f"{indent}{exchange.method} {exchange.path}"]
    if exchange.request_body is not None:
        lines.append(f"{indent}  {_body(exchange.request_body)}")
    if exchange.status is None:
        lines.append(f"{indent}→ no response: {exchange.error}")
    else:
        response = "" if exchange.response_body in (None, "") else " " + _body(exchange.response_body)
        lines.append(f"{indent}→ {exchange.status}{response}")
    return lines


def requests_by_method_and_status(trace: list[Exchange]) -> list[tuple[str, str, int]]:
    order = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}
    counts = Counter((e.method, "—" if e.status is None else str(e.status)) for e in trace)
    return [(m, s, n) for (m, s), n in sorted(counts.items(), key=lambda kv: (order.get(kv[0][0], 9), kv[0][1]))]


def offset(run: "SimulationRun", moment: datetime | None) -> str:
    return "+" + format_duration(moment - run.started) if moment else "+?"


def cause_event(run: "SimulationRun", object_id: str, before: datetime | None) -> "AppliedEvent | None":
    """The latest scenario event that touched this object (at or before `before`)."""
    return next((e for e in reversed(run.events) if object_id in e.object_ids
                 and (before is None or e.at <= before)), None)


def next_step(idp: "IdpRun", failure: "ProvisioningFailure") -> str:
    reaction = idp.profile.handle_response(failure.exchange, failure.action)
    if reaction.quarantine:
        return "quarantines the job until the target answers again"
    return "retries it in the next cycle (escrow)" if reaction.escrow else "gives up on it"


def console_summary(run: "SimulationRun") -> str:
    d = run.directory
    users = list(d.users.values())
    in_scope = sum(d.in_scope(u.object_id) for u in users)
    names = ", ".join(i.profile.title for i in run.idps)
    lines = [f"scimharness simulate: {names} → {run.target}",
             f"Scenario {run.scenario.name}: {format_duration(run.until)} simulated"
             f"{' in real time' if run.realtime else ''}, {run.wall_seconds:.1f} s wall",
             f"Directory (seed {run.seed}): {len(users) + len(d.deleted_users)} users "
             f"({in_scope} assigned, {sum(not u.account_enabled for u in users)} disabled, "
             f"{len(d.deleted_users)} hard-deleted), {len(d.groups)} groups"]
    if run.events:
        lines.append(f"Events ({len(run.events)}):")
        lines += [f"  {offset(run, e.at):>8}  {e.spec.action}: {e.description}"
                  + (f" (skipped: {e.skipped})" if e.skipped else "") for e in run.events[:40]]
        if len(run.events) > 40:
            lines.append(f"  … and {len(run.events) - 40} more (see --report)")
    for idp in run.idps:
        lines += ["", *_idp_section(run, idp)]
    findings = run.findings()
    tally = Counter(f.category for f in findings)
    lines += ["", "Result: " + ("PASSED" if run.passed else "FAILED") + (
        " (" + ", ".join(f"{tally[c]} {c}" for c in CATEGORIES if tally[c]) + ")" if findings else ""), ""]
    if run.scenario.expectations:
        lines += ["Logged outcomes:", *(o.line() for o in run.outcomes), verdict(run.outcomes), ""]
    return "\n".join(lines)


def _idp_section(run: "SimulationRun", idp: "IdpRun") -> list[str]:
    lines = [f"== {idp.profile.title} (workspace {idp.workspace})"]
    probe = idp.test_connection
    if probe is not None:
        lines.append(f"Test Connection: {'OK' if probe.ok else f'FAILED ({probe.error_code})'}: {probe.message}")
        if probe.exchange is not None:
            lines += describe_exchange(probe.exchange, "  ")
    quiet = 0
    for record in idp.cycles:
        cycle = record.report
        counts = {k: len(getattr(cycle, k)) for k in ("created", "matched", "updated", "disabled", "deleted",
                                                      "skipped")}
        if not any(counts.values()) and not cycle.failures and not cycle.aborted and len(idp.cycles) > 2:
            quiet += 1
            continue
        lines.append(f"  {offset(run, record.at):>8}  Cycle {record.number} ({cycle.kind}): "
                     + ", ".join(f"{k} {v}" for k, v in counts.items()) + f", failed {len(cycle.failures)}"
                     + (f"; ABORTED: {cycle.aborted}" if cycle.aborted else ""))
        if record.checks and record.checks.findings:
            lines.append(f"            check after the cycle: {len(record.checks.findings)} findings")
            lines += [f"            - [{f.category}] {f.label}: {f.message}" for f in record.checks.findings]
    if quiet:
        lines.append(f"  … and {quiet} quiet cycles with nothing to do")

    trace = idp.profile.trace
    lines += [f"Requests sent by the IdP: {len(trace)}"]
    for method, status, count in requests_by_method_and_status(trace):
        lines.append(f"  {method:<7}{status:>4}  × {count}")
    totals = {k: sum(len(getattr(c.report, k)) for c in idp.cycles)
              for k in ("created", "matched", "updated", "disabled", "deleted")}
    lines.append("Objects: " + ", ".join(f"{k} {v}" for k, v in totals.items()))

    failures = [f for c in idp.cycles for f in c.report.failures]
    if failures:
        lines += [f"Provisioning failures ({len(failures)}), as {idp.profile.title} logs them:"]
        for number, failure in enumerate(failures[:30], 1):
            lines.append(f"  {number}. {failure.label}: {failure.action} failed: {failure.error_code}: "
                         f"{failure.message}; {idp.profile.title} {next_step(idp, failure)}")
            lines += describe_exchange(failure.exchange, "       ")
            event = cause_event(run, failure.object_id, failure.exchange.at)
            if event:
                lines.append(f"       after event {offset(run, event.at)} {event.spec.action}: {event.description}")
        if len(failures) > 30:
            lines.append(f"  … and {len(failures) - 30} more (see --report)")
    return lines + idp.profile.own_view()[0] + _verification_lines(run, idp.verification) + _promise_lines(idp)


def _promise_lines(idp: "IdpRun") -> list[str]:
    """One check line per seed promise (read through the embedded server's admin API)."""
    if not idp.promises:
        return []
    return ["Seed promises (workspace admin API):", *(f"  {line}" for line in idp.promises)]


def _verification_lines(run: "SimulationRun", v: "Verification") -> list[str]:
    groups = f"{v.checked_groups} groups, " if v.checked_groups else ""
    lines = [f"Verification: {v.checked_users} users, {groups}{v.checked_attributes} attribute values compared "
             f"with the target ({v.reads} reads): " + ("PASSED" if v.ok else f"FAILED ({len(v.findings)} findings)")]
    if v.schemas_note:
        lines.append(f"  note: {v.schemas_note}")
    if v.unsupported:
        lines.append("  not supported by target (not compared): " + ", ".join(sorted(v.unsupported)))
    groups: dict[tuple[str, str], list["Finding"]] = {}
    for finding in v.findings:                       # one block per object: its findings, causes, current state
        groups.setdefault((finding.object_id, finding.label), []).append(finding)
    for number, ((object_id, label), findings) in enumerate(groups.items(), 1):
        category = f"[{findings[0].category}] " if findings[0].category else ""
        if len(findings) == 1:
            lines.append(f"  {number}. {category}{label}: {findings[0].message}")
        else:
            lines.append(f"  {number}. {category}{label}:")
            lines += [f"     - {f.message}" for f in findings]
        causes = _unique(f.cause for f in findings)
        if causes:
            lines.append("     caused by:")
            for cause in causes:
                lines += describe_exchange(cause, "       ")
        else:
            lines.append("     caused by: no request was sent for this object")
        evidence = [e for e in _unique(f.evidence for f in findings) if e not in causes]
        if evidence:
            lines.append("     target now:")
            for exchange in evidence:
                lines += describe_exchange(exchange, "       ")
        lines += [f"     why: {reason}" for reason in dict.fromkeys(f.reason for f in findings if f.reason)]
        event = cause_event(run, object_id, causes[-1].at if causes else None) if object_id else None
        if event:
            lines.append(f"     after event {offset(run, event.at)} {event.spec.action}: {event.description}")
    return lines


class ProgressLine:
    """A one-line progress display on a terminal during long runs (simulated time, share done); silent otherwise."""

    def __init__(self, stream: TextIO, start: datetime, duration: timedelta, every: float = 0.2) -> None:
        self.stream, self.start, self.duration, self.every = stream, start, duration, every
        self.enabled = stream.isatty() and duration.total_seconds() > 0
        self._last = 0.0

    def __call__(self, now: datetime) -> None:
        if time.monotonic() - self._last < self.every:
            return
        self._last = time.monotonic()
        done = min(max((now - self.start) / self.duration, 0.0), 1.0)
        bar = "#" * int(done * 30)
        self.stream.write(f"\r  [{bar:<30}] {format_duration(now - self.start)} of "
                          f"{format_duration(self.duration)} simulated")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled and self._last:
            self.stream.write("\r" + " " * 70 + "\r")
            self.stream.flush()


def _unique(exchanges) -> list[Exchange]:
    seen: list[Exchange] = []
    for exchange in exchanges:
        if exchange is not None and all(exchange is not other for other in seen):
            seen.append(exchange)
    return seen
