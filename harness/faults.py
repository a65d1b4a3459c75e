"""Server-side faults injected at the transport, so they work against ANY target: for a window of simulated time a
requests adapter answers 5xx or 429 + Retry-After itself, delays the real answer on the clock, or drops the connection."""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3.response import HTTPResponse

from harness.clock import Clock

FaultKind = Literal["status", "throttle", "slow", "drop"]
FAULT_KINDS: tuple[FaultKind, ...] = ("status", "throttle", "slow", "drop")
INJECTED_HEADER = "X-Scimharness-Injected-Fault"    # marks a synthesised (or delayed) response in the trace
INJECTED_ERROR = "[injected fault]"                 # marks a synthesised connection failure in Exchange.error
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


@dataclass
class FaultWindow:
    """One fault between `start` and `end` (simulated time). `rate` < 1 hits only that share of the requests,
    spread evenly (deterministic); `idp` limits it to one IdP's traffic."""
    kind: FaultKind
    start: datetime
    end: datetime
    status: int = 503                   # status: the answer; throttle always answers 429
    retry_after: int | None = None      # seconds, sent as Retry-After (throttle; also allowed with status)
    delay: float = 0.0                  # slow: seconds added before the real answer
    rate: float = 1.0
    idp: str | None = None
    seen: int = 0                       # requests that fell inside the window
    hits: int = 0                       # requests the fault was applied to

    def describe(self) -> str:
        what = {"status": f"HTTP {self.status}", "throttle": f"HTTP 429 (Retry-After: {self.retry_after})",
                "slow": f"{self.delay:g}s slower answers", "drop": "connection drops"}[self.kind]
        scope = f" on {self.idp}'s requests" if self.idp else ""
        share = f" for {self.rate:.0%} of requests" if self.rate < 1 else ""
        return f"{what}{share}{scope}"

    def takes(self, now: datetime, idp: str) -> bool:
        """Whether this request (at `now`, from `idp`) gets the fault; counts the requests it considered."""
        if not (self.start <= now < self.end) or (self.idp is not None and self.idp != idp):
            return False
        self.seen += 1
        if int(self.seen * self.rate) == int((self.seen - 1) * self.rate):
            return False
        self.hits += 1
        return True


@dataclass
class FaultPlan:
    clock: Clock
    windows: list[FaultWindow] = field(default_factory=list)

    def open(self, window: FaultWindow) -> FaultWindow:
        self.windows.append(window)
        return window

    def fault_for(self, idp: str) -> FaultWindow | None:
        now = self.clock.now()
        return next((w for w in self.windows if w.takes(now, idp)), None)

    def covered(self, moment: datetime | None, idp: str) -> bool:
        """Whether a moment fell inside a window aimed at this IdP (for judging what a finding was caused by)."""
        return moment is not None and any(w.start <= moment < w.end and w.idp in (None, idp) for w in self.windows)

    def session(self, idp: str, transport: BaseAdapter | None = None) -> requests.Session:
        """A requests session whose every request passes through this plan first, then `transport` (HTTP by
        default; the embedded app's WsgiAdapter for --in-process runs)."""
        session = requests.Session()
        session.trust_env = False   # proxies and netrc never apply to a simulated IdP; reading them is costly
        adapter = FaultInjectingAdapter(self, idp, transport or HTTPAdapter())
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session


class FaultInjectingAdapter(HTTPAdapter):
    """Answers for the target while a fault window is open; otherwise hands the request to the real transport."""

    def __init__(self, plan: FaultPlan, idp: str, transport: BaseAdapter) -> None:
        super().__init__()
        self.plan = plan
        self.idp = idp
        self.transport = transport

    def close(self) -> None:
        self.transport.close()
        super().close()

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        fault = self.plan.fault_for(self.idp)
        if fault is None:
            return self.transport.send(request, **kwargs)
        if fault.kind == "drop":
            raise requests.ConnectionError(f"{INJECTED_ERROR} connection reset by peer", request=request)
        if fault.kind == "slow":
            timeout = _read_timeout(kwargs.get("timeout"))
            if timeout is not None and fault.delay >= timeout:
                self.plan.clock.sleep(timeout)
                raise requests.ReadTimeout(f"{INJECTED_ERROR} no answer within {timeout:g}s", request=request)
            self.plan.clock.sleep(fault.delay)
            response = self.transport.send(request, **kwargs)
            response.headers[INJECTED_HEADER] = f"slow {fault.delay:g}s"
            return response
        return self._synthesised(request, fault)

    def _synthesised(self, request: requests.PreparedRequest, fault: FaultWindow) -> requests.Response:
        status = 429 if fault.kind == "throttle" else fault.status
        headers = {"Content-Type": "application/scim+json", INJECTED_HEADER: fault.kind}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        body = json.dumps({"schemas": [ERROR_SCHEMA], "status": str(status),
                           "detail": "Too many requests" if status == 429 else "Service unavailable"}).encode()
        raw = HTTPResponse(body=io.BytesIO(body), headers=headers, status=status, preload_content=False,
                           decode_content=False)
        return self.build_response(request, raw)


def _read_timeout(timeout) -> float | None:
    if isinstance(timeout, tuple):
        timeout = timeout[1]
    return float(timeout) if timeout is not None else None

