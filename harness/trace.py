"""The trace file: a versioned JSON Lines record of SCIM exchanges (docs/trace-format.md), written and read here.
A header line names the format and version; each further line is one Exchange. Authorization is never written."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Iterable

from harness.transport import Exchange

FORMAT = "scimharness-trace"
VERSION = 1
# Request headers that change how a SCIM server answers; everything else (Authorization, cookies, proxies'
# additions) stays out of the file.
RECORDED_REQUEST_HEADERS = ("User-Agent", "Content-Type", "Accept", "If-Match", "If-None-Match")


class TraceError(ValueError):
    """The file is not a trace this version of the harness can read."""


@dataclass
class Trace:
    exchanges: list[Exchange] = field(default_factory=list)
    source: str = "unknown"          # record, simulate, har, shrink, redact...
    base_url: str | None = None      # the target the exchanges went to, for the reader's information only

    def header(self) -> dict[str, Any]:
        header = {"format": FORMAT, "version": VERSION, "source": self.source,
                  "created": _iso(datetime.now(timezone.utc))}
        if self.base_url:
            header["base_url"] = self.base_url
        return header


def recorded_headers(headers: Any) -> dict[str, str]:
    """The headers worth keeping from any mapping of request headers, spelled canonically."""
    lowered = {str(name).lower(): value for name, value in dict(headers).items()}
    return {name: lowered[name.lower()] for name in RECORDED_REQUEST_HEADERS if name.lower() in lowered}


def exchange_to_record(exchange: Exchange) -> dict[str, Any]:
    record: dict[str, Any] = {
        "time": _iso(exchange.at) if exchange.at else None,
        "method": exchange.method, "path": exchange.path,
        "request_headers": recorded_headers(exchange.request_headers),
        "request_body": exchange.request_body,
        "status": exchange.status,
        "response_content_type": exchange.response_content_type,
        "response_body": exchange.response_body,
        "elapsed_ms": round(exchange.elapsed * 1000, 3),
    }
    for optional in ("purpose", "subject", "error"):
        if getattr(exchange, optional):
            record[optional] = getattr(exchange, optional)
    return record


def exchange_from_record(record: dict[str, Any], index: int) -> Exchange:
    try:
        return Exchange(index=index, method=record["method"], path=record["path"],
                        request_body=record.get("request_body"),
                        request_headers=dict(record.get("request_headers") or {}),
                        status=record.get("status"), response_body=record.get("response_body"),
                        response_content_type=record.get("response_content_type"),
                        elapsed=(record.get("elapsed_ms") or 0) / 1000, subject=record.get("subject"),
                        purpose=record.get("purpose"), error=record.get("error"),
                        at=datetime.fromisoformat(record["time"]) if record.get("time") else None)
    except (KeyError, TypeError, ValueError) as exc:
        raise TraceError(f"exchange {index}: {type(exc).__name__}: {exc}") from exc


def dumps_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_trace(path: str | Path, trace: Trace) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write(dumps_line(trace.header()))
        for exchange in trace.exchanges:
            out.write(dumps_line(exchange_to_record(exchange)))


def read_lines(path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and the exchange records of a trace file, checked for format and version."""
    with open(path, encoding="utf-8") as source:
        lines = [line for line in source if line.strip()]
    if not lines:
        raise TraceError(f"{path}: empty file, not a {FORMAT}")
    try:
        header, *records = [json.loads(line) for line in lines]
    except json.JSONDecodeError as exc:
        raise TraceError(f"{path}: line {exc.lineno}: not JSON: {exc.msg}") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise TraceError(f"{path}: the first line does not name the {FORMAT} format")
    if not isinstance(header.get("version"), int) or header["version"] > VERSION:
        raise TraceError(f"{path}: {FORMAT} version {header.get('version')!r}; this harness reads up to {VERSION}")
    return header, records


def read_trace(path: str | Path) -> Trace:
    header, records = read_lines(path)
    exchanges = [exchange_from_record(record, index) for index, record in enumerate(records)]
    return Trace(exchanges, header.get("source", "unknown"), header.get("base_url"))


class TraceWriter:
    """Appends exchanges to a trace file as they happen (a recording may end with Ctrl-C); thread-safe."""

    def __init__(self, out: IO[str], source: str, base_url: str | None = None) -> None:
        self._out = out
        self._lock = threading.Lock()
        self.count = 0
        self._write(Trace(source=source, base_url=base_url).header())

    def append(self, exchange: Exchange) -> None:
        with self._lock:
            self._write(exchange_to_record(exchange))
            self.count += 1

    def _write(self, record: dict[str, Any]) -> None:
        self._out.write(dumps_line(record))
        self._out.flush()


def renumbered(exchanges: Iterable[Exchange]) -> list[Exchange]:
    """Copies of `exchanges` indexed 0, 1, 2... (a subset of a trace, as written on its own)."""
    return [replace(exchange, index=index) for index, exchange in enumerate(exchanges)]


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def decode_body(data: bytes | str | None) -> Any:
    """A body as the trace holds it: parsed JSON when it is JSON, else the text; None when empty."""
    if not data:
        return None
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    try:
        return json.loads(text)
    except ValueError:
        return text
