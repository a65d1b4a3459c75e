"""The load driver: several client threads on loopback, each with its own keep-alive http.client connection,
sending one kind of request for a bounded time and count; reports requests/s, latency and the server's CPU."""
from __future__ import annotations

import http.client
import itertools
import json
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

CLIENT_THREADS = 8
# (method, path relative to the base URL, JSON body or None) for the i-th request of a run.
RequestMaker = Callable[[int], tuple[str, str, Any]]
# Called with (i, status, parsed body) after each response, e.g. to collect the ids a POST created.
ResponseHook = Callable[[int, int, Any], None]


@dataclass
class Measurement:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    server_cpu: float = 0.0            # CPU seconds the server process spent during the run
    first_error: str | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies) * 1000 if self.latencies else 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return self.server_cpu * 1000 / self.requests if self.requests else 0.0


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (0 where /proc is unavailable)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def run_load(base_url: str, token: str, make_request: RequestMaker, *, seconds: float, max_requests: int,
             threads: int = CLIENT_THREADS, server_pid: int | None = None,
             on_response: ResponseHook | None = None) -> Measurement:
    """Send requests 0, 1, 2… from `threads` threads until `seconds` have passed or `max_requests` were sent.
    A response outside 2xx counts as an error (the first one is kept for the report)."""
    url = urlsplit(base_url)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/scim+json",
               "Content-Type": "application/scim+json"}
    counter = itertools.count()
    result = Measurement()
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        latencies, errors, first_error = [], 0, None
        while time.perf_counter() < deadline:
            i = next(counter)
            if i >= max_requests:
                break
            method, path, body = make_request(i)
            payload = None if body is None else json.dumps(body).encode()
            started = time.perf_counter()
            connection.request(method, url.path + path, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            latencies.append(time.perf_counter() - started)
            if not 200 <= response.status < 300:
                errors += 1
                first_error = first_error or f"{method} {path} -> {response.status} {raw[:200]!r}"
            if on_response:
                on_response(i, response.status, json.loads(raw) if raw else None)
        connection.close()
        with lock:
            result.latencies += latencies
            result.errors += errors
            result.first_error = result.first_error or first_error

    cpu_before = process_cpu_seconds(server_pid) if server_pid else 0.0
    started = time.perf_counter()
    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    result.seconds = time.perf_counter() - started
    result.requests = len(result.latencies)
    if server_pid:
        result.server_cpu = process_cpu_seconds(server_pid) - cpu_before
    return result
