"""The workspace admin API under /api (not SCIM): rotate the SCIM token, list members with their access and
activity, record activity, read the request log. Authenticated by the workspace admin key; JSON errors."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from server.admin_keys import workspace_for_admin_key
from server.http.wire import decode_json
from server.members import ACTIVE, REVOKED, MemberError, Members
from server.request_log import RequestLog
from server.tokens import generate_token

ADMIN_PREFIX = "/api"
MAX_LOG_ENTRIES = 1000
ENDPOINTS = ("GET /api/workspace", "POST /api/scim-token", "GET /api/members[?access=active|revoked]",
             "GET /api/members/<id>", "GET|POST /api/members/<id>/activity",
             "GET /api/request-log[?failures=true&limit=N]")
log = logging.getLogger("scimharness.server")

blueprint = Blueprint("admin", __name__, url_prefix=ADMIN_PREFIX)


class AdminError(Exception):
    def __init__(self, status: int, error: str, detail: str):
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


def _members() -> Members:
    return current_app.config["MEMBERS"]


def _workspace_id() -> str:
    return g.admin_workspace["id"]


@blueprint.before_request
def authenticate_admin():
    workspace = workspace_for_admin_key(current_app.config["STORE"], request.headers.get("Authorization"))
    if workspace is None:
        raise AdminError(401, "unauthorized", "Send the workspace admin key as 'Authorization: Bearer <key>'. "
                                              "Create one with `scimharness admin-key generate`; a SCIM token "
                                              "is not an admin key.")
    g.admin_workspace = workspace


@blueprint.get("/workspace")
def workspace():
    ws = g.admin_workspace
    return jsonify({"id": ws["id"], "name": ws["name"], "created": ws["created"],
                    "scim_token_created": ws["token_created"], "members": _members().counts(ws["id"])})


@blueprint.post("/scim-token")
def rotate_scim_token():
    """Same rules as `scimharness token generate`: shown once here, the previous token stops at once."""
    token = generate_token(current_app.config["STORE"], g.admin_workspace["name"])
    base_url = request.url_root.rstrip("/") + current_app.config["SCIM_PREFIX"]
    return jsonify({"workspace": g.admin_workspace["name"], "base_url": base_url, "token": token,
                    "note": "Shown only once; the previous token no longer works."}), 201


@blueprint.get("/members")
def list_members():
    access = request.args.get("access")
    if access not in (None, ACTIVE, REVOKED):
        raise AdminError(400, "invalid_parameter", f"'access' must be '{ACTIVE}' or '{REVOKED}', not {access!r}.")
    members = _members().list(_workspace_id(), access)
    return jsonify({"members": members, "total": len(members)})


@blueprint.get("/members/<user_id>")
def get_member(user_id: str):
    return jsonify(_members().get(_workspace_id(), user_id))


@blueprint.get("/members/<user_id>/activity")
def list_activity(user_id: str):
    entries = _members().activity(_workspace_id(), user_id)
    return jsonify({"member": user_id, "activity": [e.__dict__ for e in entries], "total": len(entries)})


@blueprint.post("/members/<user_id>/activity")
def record_activity(user_id: str):
    body = _json_object()
    entry = _members().record_activity(_workspace_id(), user_id, body.get("kind"), body.get("at"))
    return jsonify({"member": user_id, **entry.__dict__}), 201


@blueprint.get("/request-log")
def request_log():
    log_store: RequestLog = current_app.config["REQUEST_LOG"]
    entries = log_store.entries(_workspace_id(), failures=_flag("failures"), limit=_limit())
    return jsonify({"entries": entries, "total": len(entries)})


@blueprint.route("/<path:unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown_endpoint(unknown: str):
    # Without this route an unknown /api path would fall through to the app-wide SCIM error handlers.
    raise AdminError(404, "not_found", f"No admin endpoint {request.method} {ADMIN_PREFIX}/{unknown}. There are: "
                                       + ", ".join(ENDPOINTS) + ".")


def _json_object() -> dict:
    try:
        body = decode_json(request.get_data(cache=True))
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise AdminError(400, "invalid_json", "The request body must be a JSON object, e.g. {\"kind\": \"login\"}.")
    return body


def _flag(name: str) -> bool:
    return request.args.get(name, "").lower() in ("1", "true", "yes")


def _limit() -> int:
    raw = request.args.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LOG_ENTRIES:
        raise AdminError(400, "invalid_parameter", f"'limit' must be a whole number from 1 to {MAX_LOG_ENTRIES}.")
    return int(raw)


def _error(status: int, error: str, detail: str, headers: dict | None = None):
    response = jsonify({"error": error, "detail": detail})
    response.status_code = status
    response.headers.update(headers or {})
    return response


@blueprint.errorhandler(AdminError)
def admin_error(error: AdminError):
    headers = {"WWW-Authenticate": 'Bearer realm="scimharness-admin"'} if error.status == 401 else None
    return _error(error.status, error.error, error.detail, headers)


@blueprint.errorhandler(MemberError)
def member_error(error: MemberError):
    return _error(error.status, error.code, error.detail)


@blueprint.errorhandler(HTTPException)
def http_error(error: HTTPException):
    return _error(error.code or 500, error.name.lower().replace(" ", "_"), error.description or error.name)


@blueprint.errorhandler(Exception)
def unexpected(error: Exception):
    log.exception("unexpected error in the admin API")
    return _error(500, "internal_error", "Internal error; nothing was changed.")
