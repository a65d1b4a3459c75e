"""How requests reach a SCIM target: `ScimClient` over HTTP with `requests` (or straight into a WSGI app through
`WsgiAdapter`), recording every exchange in a trace. The trace (method, path+query, bodies, status, elapsed) is what reports and the verifier cite; it never holds the token."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus, urlencode, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.util import SKIP_HEADER
from werkzeug.test import EnvironBuilder, run_wsgi_app

from harness.clock import Clock

SCIM_JSON = "application/scim+json"


@dataclass
class Exchange:
    """One request and its response, as the IdP would log it."""
    index: int
    method: str
    path: str                              # relative to the base URL, query string included, exactly as sent
    request_body: Any = None
    request_headers: dict[str, str] = field(default_factory=dict)   # without Authorization
    status: int | None = None              # None: no response (connection refused, timeout)
    response_body: Any = None              # parsed JSON when the target sent JSON, else the text
    response_content_type: str | None = None
    response_headers: dict[str, str] = field(default_factory=dict)   # Retry-After, fault markers...
    elapsed: float = 0.0                   # seconds
    subject: str | None = None             # the directory object this request was about
    purpose: str | None = None             # test-connection, match, create, update, disable, delete, read, verify...
    error: str | None = None               # transport error text when status is None
    at: datetime | None = None             # when it was sent, on the simulation's clock

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def request_line(self) -> str:
        return f"{self.method} {self.path}"

    def describe(self) -> str:
        """Multi-line human form: request line and body, then status and response body."""
        lines = [self.request_line()]
        if self.request_body is not None:
            lines.append("  " + json.dumps(self.request_body, ensure_ascii=False))
        if self.status is None:
            lines.append(f"→ no response: {self.error}")
        else:
            lines.append(f"→ {self.status}" + (
                "" if self.response_body in (None, "") else " " + (
                    json.dumps(self.response_body, ensure_ascii=False) if not isinstance(self.response_body, str)
                    else self.response_body)))
        return "\n".join(lines)


class TargetUnreachable(Exception):
    """No HTTP response at all: connection refused, DNS failure, TLS failure or timeout."""

    def __init__(self, exchange: Exchange) -> None:
        super().__init__(f"{exchange.request_line()}: {exchange.error}")
        self.exchange = exchange


class ScimClient:
    """A SCIM client bound to one base URL and bearer token. Every call returns, and appends to `trace`, an Exchange.

    `user_agent=None` sends no User-Agent header at all (Entra's Test Connection was observed without one);
    `content_type` and `headers` set a client's wire habits (OneLogin's plain JSON and Custom Headers), and a
    subclass can change them as class attributes, along with `query` and `authorization` (Okta)."""

    content_type = SCIM_JSON                    # on requests with a body
    extra_headers: dict[str, str] = {}          # sent on every request

    def __init__(self, base_url: str, token: str | None, *, session: requests.Session | None = None,
                 timeout: float = 30.0, user_agent: str | None = "scimharness/0.1",
                 content_type: str | None = None, headers: dict[str, str] | None = None,
                 clock: Clock | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.session = session or requests.Session()
        self.timeout = timeout
        self.user_agent = user_agent
        self.content_type = content_type or self.content_type
        self.headers = {**self.extra_headers, **(headers or {})}
        self.clock = clock                  # stamps each exchange; None: no timestamps
        self.trace: list[Exchange] = []

    def set_token(self, token: str | None) -> None:
        """The admin pastes a new secret token into the IdP (after rotating it on the service provider)."""
        self._token = token

    @staticmethod
    def query(params: dict[str, str]) -> str:
        """Encode a query the way Entra does: spaces as '+', quotes as %22 (filter=userName+eq+%22x%22)."""
        return urlencode(params, quote_via=quote_plus)

    def authorization(self) -> str | None:
        """The Authorization header value: the token as a bearer credential, or nothing without a token."""
        return None if self._token is None else f"Bearer {self._token}"

    def request(self, method: str, path: str, *, params: dict[str, str] | None = None, body: Any = None,
                subject: str | None = None, purpose: str | None = None,
                headers: dict[str, str] | None = None) -> Exchange:
        """`headers` override the defaults (a replay sends the recorded ones); a str body is sent verbatim."""
        if params:
            path = f"{path}{'&' if '?' in path else '?'}{self.query(params)}"
        data = None
        if body is not None:
            data = (body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)).encode("utf-8")
        headers = {"Accept": SCIM_JSON, "User-Agent": self.user_agent or SKIP_HEADER,
                   **({"Content-Type": self.content_type} if body is not None else {}), **self.headers,
                   **(headers or {})}
        recorded_headers = {k: v for k, v in headers.items() if v is not SKIP_HEADER}
        authorization = self.authorization()
        if authorization is not None:
            headers["Authorization"] = authorization
        exchange = Exchange(index=len(self.trace), method=method, path=path, request_body=body,
                            request_headers=recorded_headers, subject=subject, purpose=purpose,
                            at=self.clock.now() if self.clock else None)
        self.trace.append(exchange)
        started = time.perf_counter()
        try:
            response = self.session.request(method, self.base_url + path, data=data, headers=headers,
                                            timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            exchange.elapsed = time.perf_counter() - started
            exchange.error = f"{type(exc).__name__}: {exc}"
            raise TargetUnreachable(exchange) from exc
        exchange.elapsed = time.perf_counter() - started
        exchange.status = response.status_code
        exchange.response_content_type = response.headers.get("Content-Type")
        exchange.response_headers = dict(response.headers)
        exchange.response_body = _parse_body(response)
        return exchange

    def get(self, path: str, **kwargs: Any) -> Exchange:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> Exchange:
        return self.request("POST", path, body=body, **kwargs)

    def patch(self, path: str, body: Any, **kwargs: Any) -> Exchange:
        return self.request("PATCH", path, body=body, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> Exchange:
        return self.request("PUT", path, body=body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Exchange:
        return self.request("DELETE", path, **kwargs)


class WsgiAdapter(BaseAdapter):
    """A requests transport that calls a WSGI app in the calling thread: no socket, no server thread, the same
    bytes in and out. Mount it on a Session for the app's origin (`simulate --in-process`)."""

    def __init__(self, app) -> None:
        super().__init__()
        self.app = app

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = urlsplit(request.url)
        headers = {k: v for k, v in request.headers.items() if v is not SKIP_HEADER}
        environ = EnvironBuilder(path=url.path, query_string=url.query, method=request.method, headers=headers,
                                 data=request.body or b"", base_url=f"{url.scheme}://{url.netloc}").get_environ()
        body, status, response_headers = run_wsgi_app(self.app, environ, buffered=True)
        response = requests.Response()
        code, _, response.reason = status.partition(" ")
        response.status_code = int(code)
        response.headers = CaseInsensitiveDict(response_headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response._content = b"".join(body)
        response.url, response.request = request.url, request
        return response

    def close(self) -> None:
        pass


def in_process_session(app, origin: str) -> requests.Session:
    """A Session whose requests to `origin` go straight into the WSGI `app`."""
    session = requests.Session()
    session.trust_env = False   # no proxy or netrc applies in-process; reading them cost ~20% of each request
    session.mount(origin, WsgiAdapter(app))
    return session


def _parse_body(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text
