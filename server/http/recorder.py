"""Feeds the request log from Flask: times every request under the SCIM prefix (routed or not, authenticated
or not), decides whether it failed, and hands over bodies and the presented credential for redaction."""
from __future__ import annotations

import json
import logging
import time

from flask import Flask, Response, current_app, g, request

from server.request_log import MAX_BODY_CHARS, LoggedRequest, RequestLog
from server.tokens import workspace_for_authorization

log = logging.getLogger("scimharness.server")


def install(app: Flask, request_log: RequestLog) -> None:
    """App-level hooks, so requests that fail before reaching a SCIM route (bad token, unknown path) are
    logged too; app before_request runs ahead of the SCIM blueprint's authentication."""
    prefix = app.config["SCIM_PREFIX"]

    def is_scim() -> bool:
        return request.path == prefix or request.path.startswith(prefix + "/")

    @app.before_request
    def start_clock():
        if is_scim():
            g.request_started = time.perf_counter()

    @app.after_request
    def record(response: Response) -> Response:
        if is_scim() and "request_started" in g:
            try:
                request_log.record(_entry(response))
            except Exception:  # the log must never cost the IdP its response
                log.exception("could not write the request log")
        return response


def _entry(response: Response) -> LoggedRequest:
    failed = response.status_code >= 400 or _bulk_had_failures(response)
    workspace = g.get("workspace") or workspace_for_authorization(
        current_app.config["STORE"], request.headers.get("Authorization"))
    query = request.query_string.decode("utf-8", "replace")
    return LoggedRequest(
        workspace_id=workspace["id"] if workspace else None, method=request.method,
        path=request.path + (f"?{query}" if query else ""), status=response.status_code,
        duration_ms=(time.perf_counter() - g.request_started) * 1000,
        user_agent=request.headers.get("User-Agent"), failed=failed,
        dropped=list(g.get("dropped_attributes") or []),
        request_body=_request_body() if failed else None,
        response_body=_response_body(response) if failed else None,
        secrets=_presented_credentials())


def _presented_credentials() -> tuple[str, ...]:
    header = request.headers.get("Authorization", "").strip()
    credential = header.partition(" ")[2].strip()
    return tuple(s for s in (header, credential) if len(s) >= 4)


def _request_body() -> str | None:
    length = request.content_length or 0
    if length > 4 * MAX_BODY_CHARS:  # e.g. an oversized /Bulk refused unread: do not read it now
        return f"[request body of {length} bytes not kept]"
    try:
        raw = request.get_data(cache=True)
    except Exception:
        return "[request body could not be read]"
    return raw.decode("utf-8", "replace") if raw else None


def _response_body(response: Response) -> str | None:
    if response.direct_passthrough or response.is_streamed:
        return None
    raw = response.get_data()
    return raw.decode("utf-8", "replace") if raw else None


def _bulk_had_failures(response: Response) -> bool:
    """A /Bulk answers 200 even when operations fail; those are failures worth their bodies."""
    if not request.path.endswith("/Bulk") or response.status_code != 200 or response.is_streamed:
        return False
    try:
        operations = json.loads(response.get_data()).get("Operations", [])
        return any(int(op.get("status", 0)) >= 400 for op in operations)
    except (ValueError, AttributeError, TypeError):
        return False
