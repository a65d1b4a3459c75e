"""The `record` command: a reverse proxy between a real IdP and a real SCIM service provider that passes every
request and response through unchanged and writes each exchange to a trace (without the Authorization header)."""
from __future__ import annotations

import argparse
import signal
import sys
import time
import zlib
from datetime import datetime, timezone
from typing import Callable, Iterable

import requests
from urllib3.util import SKIP_HEADER
from waitress.server import create_server

from harness.trace import TraceWriter, decode_body
from harness.transport import Exchange

# Connection-level headers belong to each hop, not to the message; Host and Content-Length are set anew.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "trailers", "transfer-encoding", "upgrade", "host", "content-length"})


class RecordingProxy:
    """WSGI app forwarding everything below its root to `upstream` (a SCIM base URL) and recording it."""

    def __init__(self, upstream: str, writer: TraceWriter, *, timeout: float = 60.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.writer = writer
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.clear()            # forward the IdP's headers, not requests' defaults
        self.session.trust_env = False

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = _raw_path(environ)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = _request_headers(environ)
        exchange = Exchange(index=self.writer.count, method=method, path=path, request_body=decode_body(body),
                            request_headers={k: v for k, v in headers.items() if k.lower() != "authorization"},
                            at=datetime.now(timezone.utc))
        forwarded = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
        forwarded.setdefault("User-Agent", SKIP_HEADER)   # an IdP that sends none (Entra's probe) still sends none
        started = time.perf_counter()
        try:
            response = self.session.request(method, self.upstream + path, data=body or None, headers=forwarded,
                                            timeout=self.timeout, allow_redirects=False, stream=True)
            content = response.raw.read(decode_content=False)
        except requests.RequestException as exc:
            exchange.elapsed = time.perf_counter() - started
            exchange.error = f"{type(exc).__name__}: {exc}"
            self.writer.append(exchange)
            start_response("502 Bad Gateway", [("Content-Type", "text/plain; charset=utf-8")])
            return [f"scimharness record: upstream unreachable: {exchange.error}\n".encode()]
        exchange.elapsed = time.perf_counter() - started
        exchange.status = response.status_code
        exchange.response_content_type = response.headers.get("Content-Type")
        exchange.response_body = decode_body(_decoded(content, response.headers.get("Content-Encoding")))
        self.writer.append(exchange)
        passed = [(k, v) for k, v in response.headers.items() if k.lower() not in HOP_BY_HOP]
        start_response(f"{response.status_code} {response.reason or ''}".rstrip(),
                       passed + [("Content-Length", str(len(content)))])
        return [content]


def _raw_path(environ: dict) -> str:
    """Path and query exactly as the IdP sent them (percent-encoding untouched)."""
    uri = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if uri:
        if "://" in uri:                                   # absolute-form request line
            uri = "/" + uri.split("://", 1)[1].partition("/")[2]
        return uri
    query = environ.get("QUERY_STRING")
    return environ.get("PATH_INFO", "") + (f"?{query}" if query else "")


def _request_headers(environ: dict) -> dict[str, str]:
    headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items()
               if key.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").title()] = environ[key]
    return headers


def _decoded(content: bytes, encoding: str | None) -> bytes:
    """The body for the trace: gzip/deflate undone (the IdP itself gets the bytes as the upstream sent them)."""
    if encoding and encoding.lower() in ("gzip", "deflate", "x-gzip"):
        try:
            return zlib.decompress(content, zlib.MAX_WBITS | 32)
        except zlib.error:
            return content
    return content


def _listen_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def handle(args: argparse.Namespace) -> int:
    host, port = args.listen
    with open(args.out, "w", encoding="utf-8") as out:
        writer = TraceWriter(out, source="record", base_url=args.upstream)
        try:
            server = create_server(RecordingProxy(args.upstream, writer, timeout=args.timeout), host=host, port=port)
        except OSError as exc:
            print(f"error: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
            return 2
        print(f"recording: point the IdP at http://{host}:{server.effective_port}/ (forwarded to "
              f"{args.upstream.rstrip('/')}/); writing {args.out}; Ctrl-C to stop", file=sys.stderr, flush=True)
        signal.signal(signal.SIGTERM, signal.default_int_handler)    # `kill` ends it as cleanly as Ctrl-C
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            server.close()
        print(f"recorded {writer.count} exchanges to {args.out}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "record", help="record the SCIM traffic between an IdP and a service provider into a trace",
        description="Run a reverse proxy: every request below its root is forwarded unchanged (method, path, "
                    "query, body, headers including Authorization) to UPSTREAM + path, and the upstream's answer "
                    "is returned unchanged. Each exchange is appended to the trace as it completes; the "
                    "Authorization header is never written. Stop with Ctrl-C.")
    parser.add_argument("--upstream", required=True, metavar="BASE_URL",
                        help="the real SCIM base URL, e.g. https://app.example.com/scim/v2")
    parser.add_argument("--listen", type=_listen_address, default=("127.0.0.1", 8089), metavar="HOST:PORT",
                        help="where the proxy listens (default 127.0.0.1:8089; port 0 picks a free one)")
    parser.add_argument("--out", required=True, metavar="TRACE", help="trace file to write (JSON Lines)")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                        help="per-request timeout towards the upstream (default 60)")
    parser.set_defaults(handler=handle)
