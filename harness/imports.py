"""The `import` command: HAR captures → traces, and Entra provisioning-log exports → scenarios (harness.entra_logs)
that `simulate --scenario` runs to see whether a target reproduces the logged outcomes."""
from __future__ import annotations

import argparse
import base64
import json
import re
import sys
from datetime import datetime
from urllib.parse import urlsplit

from harness.trace import Trace, decode_body, recorded_headers, write_trace
from harness.transport import Exchange

# Where a SCIM base URL ends: the first segment naming a SCIM endpoint.
SCIM_ENDPOINT = re.compile(r"/(Users|Groups|ServiceProviderConfig|Schemas|ResourceTypes|Bulk|Me|\.search)(?=[/?]|$)")


def trace_from_har(har: dict, base_url: str | None = None) -> Trace:
    """The SCIM exchanges of a HAR capture (browser dev tools, mitmproxy, Fiddler), in order. Entries outside
    `base_url` (or, without it, not addressed to a SCIM endpoint) are left out; so are cookies and Authorization."""
    exchanges: list[Exchange] = []
    bases = set()
    for entry in sorted(har["log"]["entries"], key=lambda e: e.get("startedDateTime", "")):
        request, response = entry["request"], entry.get("response") or {}
        split = _split_url(request["url"], base_url)
        if split is None:
            continue
        base, path = split
        bases.add(base)
        status = response.get("status") or None           # 0: the browser got no response
        exchanges.append(Exchange(
            index=len(exchanges), method=request["method"].upper(), path=path,
            request_body=decode_body((request.get("postData") or {}).get("text")),
            request_headers=recorded_headers({h["name"]: h["value"] for h in request.get("headers", [])}),
            status=status, response_body=decode_body(_content_text(response.get("content") or {})),
            response_content_type=_header(response, "Content-Type"),
            elapsed=max(entry.get("time") or 0, 0) / 1000,
            error=None if status else "no response (HAR status 0)",
            at=datetime.fromisoformat(entry["startedDateTime"]) if entry.get("startedDateTime") else None))
    return Trace(exchanges, source="har", base_url=base_url or (bases.pop() if len(bases) == 1 else None))


def _split_url(url: str, base_url: str | None) -> tuple[str, str] | None:
    if base_url:
        base = base_url.rstrip("/")
        return (base, url[len(base):] or "/") if url.startswith(base) else None
    parts = urlsplit(url)
    found = SCIM_ENDPOINT.search(parts.path)
    if not found:
        return None
    origin = f"{parts.scheme}://{parts.netloc}{parts.path[:found.start()]}"
    return origin, parts.path[found.start():] + (f"?{parts.query}" if parts.query else "")


def _content_text(content: dict) -> bytes | str | None:
    text = content.get("text")
    if text and content.get("encoding") == "base64":
        return base64.b64decode(text)
    return text


def _header(message: dict, name: str) -> str | None:
    return next((h["value"] for h in message.get("headers", []) if h["name"].lower() == name.lower()), None)


def handle_har(args: argparse.Namespace) -> int:
    with open(args.har, encoding="utf-8-sig") as source:
        trace = trace_from_har(json.load(source), args.base_url)
    if not trace.exchanges:
        print("error: no SCIM requests in the capture (give --base-url if the endpoint is unusual)", file=sys.stderr)
        return 1
    write_trace(args.out, trace)
    print(f"wrote {len(trace.exchanges)} exchanges to {args.out}")
    return 0


def handle_entra_logs(args: argparse.Namespace) -> int:
    from harness.entra_logs import LogFormatError, dump_scenario, load_records, scenario_from_records
    try:
        records, warnings = load_records(args.logs)
        scenario = scenario_from_records(records, args.name)
    except (OSError, ValueError, KeyError, LogFormatError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    dump_scenario(scenario, args.out)
    print(f"wrote {args.out}: {scenario['description']}\n"
          f"reproduce it: scimharness simulate --scenario {args.out} [--target BASE_URL --token TOKEN]")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("import", help="turn captures and IdP logs into traces and scenarios",
                                   description="Import a HAR capture as a trace, or Entra provisioning logs as a "
                                               "scenario.")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    har = kinds.add_parser("har", help="HAR capture → trace",
                           description="Write the SCIM exchanges of a HAR file as a trace (docs/trace-format.md).")
    har.add_argument("har", metavar="FILE.har")
    har.add_argument("--base-url", metavar="URL",
                     help="the SCIM base URL in the capture (default: inferred from /Users, /Groups... paths)")
    har.add_argument("--out", required=True, metavar="TRACE")
    har.set_defaults(handler=handle_har)
    logs = kinds.add_parser(
        "entra-logs", help="Entra provisioning logs → scenario",
        description="Read Entra provisioning logs (the portal's JSON download: an array of provisioningObjectSummary "
                    "records; or Graph auditLogs/provisioning pages, with provisioningAction/provisioningStatusInfo "
                    "or the deprecated action/statusInfo) and write a scenario: the directory before the logged "
                    "changes, the source-side change behind each changeId, the objects the target already held "
                    "(from EntryConflict failures), and every logged action and outcome as an [[expect]]ation. "
                    "Run it with `simulate --scenario FILE [--target URL --token T]` to see which logged outcomes "
                    "the target reproduces.")
    logs.add_argument("logs", nargs="+", metavar="FILE", help="JSON export(s) or Graph page(s), in page order")
    logs.add_argument("--out", required=True, metavar="SCENARIO", help="scenario file (.toml, or .json)")
    logs.add_argument("--name", default="entra-log-import", help="scenario name (default entra-log-import)")
    logs.set_defaults(handler=handle_entra_logs)
