"""The /Bulk endpoint: enforces the contract's payload limit before the body is read, then hands the
operations to the BulkRunner."""
from __future__ import annotations

from flask import Blueprint, current_app, g, request

from server.bulk import BulkRunner, parse_bulk_request
from server.http.wire import base_url, json_body, scim_response
from server.scim.errors import ScimError

blueprint = Blueprint("bulk", __name__)


@blueprint.post("/Bulk")
def bulk():
    contract = current_app.config["CONTRACT"]
    limit = contract.limits.bulk_max_payload_size
    if (request.content_length or 0) > limit:
        raise ScimError(413, f"The bulk request body is {request.content_length} bytes; at most {limit} are "
                             "allowed. Nothing was executed.")
    request.max_content_length = limit  # also bounds a chunked body with no Content-Length
    operations, fail_on_errors = parse_bulk_request(json_body(), contract)
    runner = BulkRunner(current_app.config["SERVICE"], g.workspace["id"], base_url())
    body = runner.run(operations, fail_on_errors)
    g.dropped_attributes = runner.dropped
    return scim_response(body)
