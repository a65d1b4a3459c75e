"""The `replay` command: sends a trace's requests in order to a target, maps the ids the original server assigned to
the ones the target assigns, and reports where the target's answers diverge from the recorded ones."""
from __future__ import annotations

import argparse
import json
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, TextIO

import requests
from urllib3.util import SKIP_HEADER

from harness.trace import Trace, TraceError, read_trace
from harness.transport import Exchange, ScimClient, TargetUnreachable

EXIT_SAME, EXIT_DIVERGED, EXIT_USAGE = 0, 1, 2
IGNORED_META = ("created", "lastModified", "version", "location")
MATCH_KEYS = ("userName", "externalId", "displayName")   # how a listed resource is recognised on the other side
SUBSTRING_MIN = 8            # ids at least this long are also rewritten inside longer strings (paths, filters)
MAX_DIFFERENCES = 5


@dataclass
class Divergence:
    index: int                       # position in the trace
    kind: str                        # status, body, unreachable
    original: Exchange
    replayed: Exchange
    differences: list[str] = field(default_factory=list)

    def signature(self) -> tuple:
        """What "fails the same way" means to shrink: the kind, the request's shape and both statuses."""
        return self.kind, self.original.method, path_shape(self.original.path), self.original.status, \
            self.replayed.status

    def describe(self) -> str:
        lines = [f"#{self.index} {self.original.request_line()}: {self.kind} diverges",
                 "  recorded: " + _answer(self.original), "  replayed: " + _answer(self.replayed)]
        lines += [f"    {difference}" for difference in self.differences]
        return "\n".join(lines)


@dataclass
class ReplayReport:
    target: str
    replayed: list[Exchange] = field(default_factory=list)
    divergences: list[Divergence] = field(default_factory=list)
    stopped: str | None = None       # why the replay ended before the trace did

    @property
    def first(self) -> Divergence | None:
        return self.divergences[0] if self.divergences else None


class IdMap:
    """Original server's ids (and ETag versions) → the target's, learned from answers, applied to requests."""

    def __init__(self) -> None:
        self.mapping: dict[str, str] = {}
        self._pattern: re.Pattern | None = None

    def learn(self, original: Any, replayed: Any) -> None:
        if not (isinstance(original, dict) and isinstance(replayed, dict)):
            return
        if isinstance(original.get("Resources"), list) and isinstance(replayed.get("Resources"), list):
            for resource in original["Resources"]:
                counterpart = _counterpart(resource, replayed["Resources"])
                if counterpart is not None:
                    self.learn(resource, counterpart)
            return
        self._add(original.get("id"), replayed.get("id"))
        self._add(_meta(original).get("version"), _meta(replayed).get("version"))

    def _add(self, old: Any, new: Any) -> None:
        if isinstance(old, str) and isinstance(new, str) and old and self.mapping.get(old) != new:
            self.mapping[old] = new
            self._pattern = None

    def rewrite(self, value: Any) -> Any:
        """Every id the original server assigned, replaced by the target's, anywhere inside `value`."""
        if isinstance(value, dict):
            return {key: self.rewrite(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.rewrite(item) for item in value]
        if isinstance(value, str):
            return self.rewrite_text(value)
        return value

    def rewrite_text(self, text: str) -> str:
        if text in self.mapping:
            return self.mapping[text]
        long_ids = sorted((old for old in self.mapping if len(old) >= SUBSTRING_MIN), key=len, reverse=True)
        if not long_ids:
            return text
        if self._pattern is None:
            self._pattern = re.compile("|".join(map(re.escape, long_ids)))
        return self._pattern.sub(lambda m: self.mapping[m.group(0)], text)

    def rewrite_path(self, path: str) -> str:
        """Short ids (e.g. "7") only as whole path segments or quoted filter values; long ids anywhere."""
        location, mark, query = path.partition("?")
        segments = [self.mapping.get(segment, segment) for segment in location.split("/")]
        query = re.sub(r"(%22|\")([^\"%]+)(%22|\")",
                       lambda m: m.group(1) + self.mapping.get(m.group(2), m.group(2)) + m.group(3), query)
        return self.rewrite_text("/".join(segments) + mark + query)


def replay_trace(trace: Trace, base_url: str, token: str | None, *, timeout: float = 30.0,
                 session: requests.Session | None = None, stop_at_first: bool = False) -> ReplayReport:
    client = ScimClient(base_url, token, session=session, timeout=timeout, user_agent=None)
    ids = IdMap()
    report = ReplayReport(base_url)
    for position, original in enumerate(trace.exchanges):
        try:
            replayed = client.request(original.method, ids.rewrite_path(original.path),
                                      body=ids.rewrite(original.request_body),
                                      headers=_replay_headers(original.request_headers, ids),
                                      subject=original.subject, purpose=original.purpose)
        except TargetUnreachable as exc:
            report.replayed.append(exc.exchange)
            report.divergences.append(Divergence(position, "unreachable", original, exc.exchange, [exc.exchange.error
                                                                                                 or ""]))
            report.stopped = f"the target stopped answering at exchange #{position}"
            break
        report.replayed.append(replayed)
        if original.ok and replayed.ok:
            ids.learn(original.response_body, replayed.response_body)
        divergence = compare(position, original, replayed, ids)
        if divergence:
            report.divergences.append(divergence)
            if stop_at_first:
                break
    return report


def compare(position: int, original: Exchange, replayed: Exchange, ids: IdMap) -> Divergence | None:
    """The divergence between a recorded exchange and its replay, if any. An exchange that got no answer when it
    was recorded has nothing to compare with."""
    if original.status is None:
        return None
    if original.status != replayed.status:
        return Divergence(position, "status", original, replayed)
    if original.ok:
        expected, actual = comparable(ids.rewrite(original.response_body)), comparable(replayed.response_body)
    else:   # error texts are free prose; a SCIM error is its status and scimType
        expected, actual = _error_shape(original.response_body), _error_shape(replayed.response_body)
    differences = list(differences_between(expected, actual))
    if differences:
        return Divergence(position, "body", original, replayed, differences[:MAX_DIFFERENCES])
    return None


def comparable(body: Any) -> Any:
    """A response body without what legitimately differs between servers or runs: resource ids, $ref URLs and
    meta timestamps, versions and locations. Listed resources are put in a canonical order."""
    if isinstance(body, list):
        return sorted((comparable(item) for item in body), key=lambda item: json.dumps(item, sort_keys=True))
    if not isinstance(body, dict):
        return body
    result = {}
    for key, value in body.items():
        if key == "id" and "schemas" in body or key == "$ref":
            continue
        if key == "meta" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in IGNORED_META}
        result[key] = comparable(value)
    return result


def differences_between(expected: Any, actual: Any, where: str = "") -> Iterator[str]:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual), key=str):
            path = f"{where}.{key}" if where else key
            if key not in actual:
                yield f"{path}: {_short(expected[key])} → missing"
            elif key not in expected:
                yield f"{path}: missing → {_short(actual[key])}"
            else:
                yield from differences_between(expected[key], actual[key], path)
    elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for number, (left, right) in enumerate(zip(expected, actual)):
            yield from differences_between(left, right, f"{where}[{number}]")
    elif expected != actual or type(expected) is not type(actual):
        yield f"{where or 'body'}: {_short(expected)} → {_short(actual)}"


def path_shape(path: str) -> str:
    """`/Users/2819c223?attributes=x` → `/Users/{id}?attributes`: the request's kind without its values."""
    location, _, query = path.partition("?")
    segments = location.split("/")
    shaped = "/".join(segments[:2] + ["{id}" if segment else "" for segment in segments[2:]])
    names = [pair.partition("=")[0] for pair in query.split("&") if pair]
    return shaped + ("?" + "&".join(names) if names else "")


def _replay_headers(recorded: dict[str, str], ids: IdMap) -> dict[str, str]:
    headers = {name: ids.rewrite_text(value) for name, value in recorded.items()}
    if not any(name.lower() == "user-agent" for name in headers):
        headers["User-Agent"] = SKIP_HEADER        # the IdP sent none, so neither does the replay
    return headers


def _counterpart(resource: Any, candidates: list) -> dict | None:
    if not isinstance(resource, dict):
        return None
    for key in MATCH_KEYS:
        value = resource.get(key)
        if isinstance(value, str):
            found = [c for c in candidates if isinstance(c, dict) and isinstance(c.get(key), str)
                     and c[key].lower() == value.lower()]
            if len(found) == 1:
                return found[0]
    return None


def _meta(body: dict) -> dict:
    return body.get("meta") if isinstance(body.get("meta"), dict) else {}


def _error_shape(body: Any) -> Any:
    if isinstance(body, dict):
        return {key: str(body[key]) for key in ("status", "scimType") if key in body}
    return None


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _answer(exchange: Exchange) -> str:
    if exchange.status is None:
        return f"no response ({exchange.error})"
    body = "" if exchange.response_body in (None, "") else " " + _short(exchange.response_body, 160)
    return f"{exchange.status}{body}"


def summary(report: ReplayReport, trace_length: int) -> str:
    lines = [f"Replayed {len(report.replayed)} of {trace_length} exchanges against {report.target}: "
             + (f"{len(report.divergences)} divergence(s)" if report.divergences else "no divergence")]
    if report.first:
        lines += ["", "First divergence:", report.first.describe()]
    if len(report.divergences) > 1:
        lines += ["", "Later divergences:"] + [d.describe() for d in report.divergences[1:]]
    if report.stopped:
        lines += ["", f"Stopped: {report.stopped}"]
    return "\n".join(lines) + "\n"


def handle(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        trace = read_trace(args.trace)
    except (OSError, TraceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    with target_or_embedded(args.target, args.token) as (base_url, token):
        report = replay_trace(trace, base_url, token, timeout=args.timeout)
    out.write(summary(report, len(trace.exchanges)))
    return EXIT_DIVERGED if report.divergences else EXIT_SAME


@contextmanager
def target_or_embedded(target: str | None, token: str | None) -> Iterator[tuple[str, str | None]]:
    """(base URL, token) of the target given, or of a fresh embedded server while the `with` lasts."""
    if target:
        yield target, token
        return
    from server.embedded import EmbeddedServer    # lazily: --target works without the server
    with EmbeddedServer() as server:
        yield server.base_url, server.token


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", metavar="BASE_URL",
                        help="SCIM base URL to send the requests to (default: a fresh embedded server)")
    parser.add_argument("--token", metavar="TOKEN", help="bearer token for --target")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="per-request timeout (default 30)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay", help="send a trace's requests to a target and report where its answers diverge",
        description="Send the requests of a trace, in order, to a SCIM target, rewriting the ids the original "
                    "server assigned to the ones the target assigns (learned from create, read and list answers). "
                    "Compares each answer with the recorded one (status; resource bodies without ids, $ref URLs "
                    "and meta timestamps/versions/locations; errors by status and scimType) and reports the first "
                    "divergence and every later one. Exit status: 0 same, 1 diverged, 2 usage error.")
    parser.add_argument("trace", metavar="TRACE", help="trace file (JSON Lines, docs/trace-format.md)")
    add_target_arguments(parser)
    parser.set_defaults(handler=handle)
