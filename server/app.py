"""The Flask application factory: loads the contract, opens the store, mounts the SCIM blueprints under
/scim/v2 behind bearer-token authentication and the workspace admin API under /api, and logs SCIM requests."""
from __future__ import annotations

import os

from flask import Blueprint, Flask

from server import admin_keys
from server.contract import Contract, load_contract
from server.http import admin, bulk, discovery, recorder
from server.http.security import add_security_headers
from server.http.resources import resource_blueprint
from server.http.wire import authenticate, register_error_handlers
from server.request_log import DEFAULT_LIMIT, RequestLog
from server.service import ScimService
from server.storage import Store

SCIM_PREFIX = "/scim/v2"
DB_ENV = "SCIMHARNESS_DB"
LOG_LIMIT_ENV = "SCIMHARNESS_REQUEST_LOG_LIMIT"
# Large enough for a PUT of a big group; /Bulk applies the contract's own, smaller limit. The WSGI server
# enforces it too (embedded.py, cli.py), so a larger body is refused before it is read.
MAX_BODY_BYTES = 16 * 1024 * 1024


def create_app(db_path: str | None = None, contract: Contract | str | None = None,
               request_log_limit: int | None = None) -> Flask:
    """`request_log_limit` bounds the request log per workspace (default from $SCIMHARNESS_REQUEST_LOG_LIMIT,
    else 10,000 entries)."""
    db_path = db_path or os.environ.get(DB_ENV)
    if not db_path:
        raise ValueError(f"No database: pass db_path or set {DB_ENV}.")
    contract = contract if isinstance(contract, Contract) else load_contract(contract or "seed")
    store = Store(db_path)
    service = ScimService(store, contract)
    admin_keys.ensure_schema(store)
    request_log = RequestLog(store, request_log_limit or int(os.environ.get(LOG_LIMIT_ENV, DEFAULT_LIMIT)))

    app = Flask(__name__)
    app.config.update(STORE=store, CONTRACT=contract, SERVICE=service, MEMBERS=service.members,
                      REQUEST_LOG=request_log, SCIM_PREFIX=SCIM_PREFIX, MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    recorder.install(app, request_log)
    app.after_request(add_security_headers)

    scim = Blueprint("scim", __name__, url_prefix=SCIM_PREFIX)
    scim.before_request(authenticate)
    register_error_handlers(scim)
    scim.register_blueprint(discovery.blueprint)
    scim.register_blueprint(bulk.blueprint)
    for rtype in contract.resource_types:
        scim.register_blueprint(resource_blueprint(rtype))
    app.register_blueprint(scim)
    app.register_blueprint(admin.blueprint)
    return app
