"""Machine-readable reports of a simulation run: `--report` JSON (every event, cycle, request, response and finding),
`--junit` XML for CI systems (one failure per server bug), and `--trace` JSON lines (one exchange a line)."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

from harness.reports import cause_event, next_step, offset
from harness.scenario_files import format_duration
from harness.trace import Trace, dumps_line, exchange_to_record
from harness.transport import Exchange
from harness.verdicts import SERVER_BUG, injected

if TYPE_CHECKING:
    from harness.simulate import CycleRecord, IdpRun, SimulationRun
    from harness.verifier import Finding, Verification


def exchange_json(exchange: Exchange | None, idp: str | None = None) -> dict | None:
    if exchange is None:
        return None
    data = {"idp": idp, "index": exchange.index, "at": exchange.at.isoformat() if exchange.at else None,
            "method": exchange.method, "path": exchange.path, "request_body": exchange.request_body,
            "status": exchange.status, "response_body": exchange.response_body,
            "retry_after": exchange.response_headers.get("Retry-After"), "elapsed": round(exchange.elapsed, 6),
            "subject": exchange.subject, "purpose": exchange.purpose, "error": exchange.error,
            "injected_fault": injected(exchange)}
    return data if idp else {k: v for k, v in data.items() if k != "idp"}


def _finding_json(run: "SimulationRun", finding: "Finding") -> dict:
    event = cause_event(run, finding.object_id, finding.cause.at if finding.cause else None) \
        if finding.object_id else None
    return {"object_id": finding.object_id, "label": finding.label, "kind": finding.kind,
            "category": finding.category, "reason": finding.reason, "message": finding.message,
            "attribute": finding.attribute, "expected": finding.expected, "actual": finding.actual,
            "cause": exchange_json(finding.cause), "evidence": exchange_json(finding.evidence),
            "event": _event_json(run, event) if event else None}


def _verification_json(run: "SimulationRun", v: "Verification") -> dict:
    return {"passed": v.ok, "checked_users": v.checked_users, "checked_attributes": v.checked_attributes,
            "reads": v.reads, "unsupported": v.unsupported, "schemas_note": v.schemas_note,
            "findings": [_finding_json(run, f) for f in v.findings]}


def _event_json(run: "SimulationRun", event) -> dict:
    return {"at": event.at.isoformat(), "offset": offset(run, event.at), "index": event.spec.index,
            "line": event.spec.line, "action": event.spec.action, "description": event.description,
            "object_ids": list(event.object_ids), "skipped": event.skipped}


def _cycle_json(run: "SimulationRun", idp: "IdpRun", record: "CycleRecord") -> dict:
    cycle = record.report
    return {"number": record.number, "at": record.at.isoformat(), "offset": offset(run, record.at),
            "kind": cycle.kind, "aborted": cycle.aborted,
            **{k: getattr(cycle, k) for k in ("created", "matched", "updated", "disabled", "deleted", "skipped")},
            "failures": [{"object_id": f.object_id, "label": f.label, "action": f.action,
                          "error_code": f.error_code, "message": f.message, "next_step": next_step(idp, f),
                          "exchange": exchange_json(f.exchange),
                          "event": (lambda e: _event_json(run, e) if e else None)(
                              cause_event(run, f.object_id, f.exchange.at))} for f in cycle.failures],
            "checks": _verification_json(run, record.checks) if record.checks else None}


def run_json(run: "SimulationRun") -> dict[str, Any]:
    return {
        "scenario": {"name": run.scenario.name, "source": run.scenario.source,
                     "description": run.scenario.description, "until": format_duration(run.until)},
        "target": run.target, "seed": run.seed, "realtime": run.realtime, "started": run.started.isoformat(),
        "ended": run.ended.isoformat() if run.ended else None, "wall_seconds": round(run.wall_seconds, 3),
        "passed": run.passed, "exit_code": run.exit_code,
        "events": [_event_json(run, e) for e in run.events],
        "seeded": [exchange_json(e) for e in run.seeding],
        "expectations": [o.as_json() for o in run.outcomes],
        "faults": [{**asdict(w), "start": w.start.isoformat(), "end": w.end.isoformat()}
                   for w in (run.faults.windows if run.faults else [])],
        "idps": [{
            "name": idp.name, "title": idp.profile.title, "workspace": idp.workspace,
            "settings": idp.profile.settings,
            "test_connection": None if idp.test_connection is None else {
                "ok": idp.test_connection.ok, "message": idp.test_connection.message,
                "error_code": idp.test_connection.error_code,
                "exchange": exchange_json(idp.test_connection.exchange)},
            "cycles": [_cycle_json(run, idp, c) for c in idp.cycles],
            "verification": _verification_json(run, idp.verification),
            "idp_view": idp.profile.own_view()[1],
            "seed_promises": [{"name": line.name, "passed": line.passed, "detail": line.detail}
                              for line in idp.promises],
            "requests": [exchange_json(e) for e in idp.profile.trace],
        } for idp in run.idps],
    }


def junit_xml(run: "SimulationRun") -> ET.ElementTree:
    """One testsuite per IdP: Test Connection, each cycle (failing when its check found server bugs) and each object
    the final verification found wrong (failing for server bugs; expected refusals and harness limitations pass
    with their reason in system-out)."""
    suites = ET.Element("testsuites", name=f"scimharness {run.scenario.name}", time=f"{run.wall_seconds:.3f}")
    for idp in run.idps:
        suite = ET.SubElement(suites, "testsuite", name=f"{run.scenario.name}.{idp.name}")
        probe = idp.test_connection
        case = ET.SubElement(suite, "testcase", classname=suite.get("name"), name="Test Connection")
        if probe is not None and not probe.ok:
            _fail(case, [f for f in idp.verification.findings if f.kind == "test-connection"])
        for record in idp.cycles:
            case = ET.SubElement(suite, "testcase", classname=suite.get("name"),
                                 name=f"cycle {record.number} ({record.report.kind}) at {offset(run, record.at)}")
            _fail(case, record.checks.findings if record.checks else [])
            if record.report.failures:
                ET.SubElement(case, "system-out").text = "\n".join(
                    f"{f.label}: {f.action} failed: {f.error_code}: {f.message}" for f in record.report.failures)
        by_object: dict[str, list[Finding]] = {}
        for finding in idp.verification.findings:
            if finding.kind != "test-connection":
                by_object.setdefault(finding.label, []).append(finding)
        case = ET.SubElement(suite, "testcase", classname=suite.get("name"), name="final verification")
        ET.SubElement(case, "system-out").text = (f"{idp.verification.checked_users} users, "
                                                  f"{idp.verification.checked_attributes} attribute values")
        for label, findings in by_object.items():
            _fail(ET.SubElement(suite, "testcase", classname=suite.get("name"), name=f"final: {label}"), findings)
        cases = suite.findall("testcase")
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(c.find("failure") is not None for c in cases)))
    return ET.ElementTree(suites)


def _fail(case: ET.Element, findings: list["Finding"]) -> None:
    bugs = [f for f in findings if f.category == SERVER_BUG]
    others = [f for f in findings if f.category != SERVER_BUG]
    if bugs:
        failure = ET.SubElement(case, "failure", type=SERVER_BUG,
                                message="; ".join(f"{f.label}: {f.message}" for f in bugs))
        failure.text = "\n\n".join(_finding_text(f) for f in bugs)
    if others:
        ET.SubElement(case, "system-out").text = "\n\n".join(_finding_text(f) for f in others)


def _finding_text(finding: "Finding") -> str:
    lines = [f"[{finding.category}] {finding.label}: {finding.message}", f"why: {finding.reason}"]
    if finding.cause is not None:
        lines += ["caused by:", finding.cause.describe()]
    return "\n".join(lines)


def write_requested(run: "SimulationRun", *, report: str | None, junit: str | None, trace: str | None) -> None:
    if report:
        Path(report).write_text(json.dumps(run_json(run), ensure_ascii=False, indent=1, default=str),
                                encoding="utf-8")
    if junit:
        junit_xml(run).write(junit, encoding="utf-8", xml_declaration=True)
    if trace:
        exchanges = sorted(((e.at, idp.name, e) for idp in run.idps for e in idp.profile.trace),
                           key=lambda item: (item[0] or run.started, item[1], item[2].index))
        header = Trace(source=f"simulate --scenario {run.scenario.name}", base_url=run.target).header()
        with open(trace, "w", encoding="utf-8") as out:   # the replayable format of docs/trace-format.md
            out.write(dumps_line(header))
            for _, name, exchange in exchanges:
                out.write(dumps_line({**exchange_to_record(exchange), "idp": name}))
