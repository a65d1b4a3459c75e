"""Blueprints for the resource endpoints (/Users, /Groups, and any the contract adds): one blueprint per
resource type, each turning a request into one ScimService call and its result into a response."""
from __future__ import annotations

from flask import Blueprint, current_app, g, request

from server.http.wire import base_url, json_body, scim_response, selection_for
from server.scim.schema import ResourceType
from server.service import Outcome, ScimService


def _service() -> ScimService:
    return current_app.config["SERVICE"]


def _written(outcome: Outcome, status: int) -> object:
    g.dropped_attributes = outcome.dropped
    headers = {"ETag": outcome.etag, "Location": outcome.location}
    return scim_response(outcome.resource, status, headers)


def resource_blueprint(rtype: ResourceType) -> Blueprint:
    blueprint = Blueprint(rtype.name.lower(), __name__, url_prefix=rtype.endpoint)

    @blueprint.get("")
    def list_resources():
        args = request.args
        body = _service().search(g.workspace["id"], [rtype], args.get("filter"), args.get("startIndex"),
                                 args.get("count"), base_url(), selection_for(rtype))
        return scim_response(body)

    @blueprint.post("/.search")
    def search_resources():
        body = json_body()
        return scim_response(_service().search(
            g.workspace["id"], [rtype], body.get("filter"), body.get("startIndex"), body.get("count"),
            base_url(), selection_for(rtype, body)))

    @blueprint.post("")
    def create_resource():
        outcome = _service().create(g.workspace["id"], rtype, json_body(), base_url(), selection_for(rtype))
        return _written(outcome, 201)

    @blueprint.get("/<resource_id>")
    def get_resource(resource_id: str):
        outcome = _service().get(g.workspace["id"], rtype, resource_id, base_url(), selection_for(rtype))
        return scim_response(outcome.resource, headers={"ETag": outcome.etag, "Location": outcome.location})

    @blueprint.put("/<resource_id>")
    def replace_resource(resource_id: str):
        outcome = _service().replace(g.workspace["id"], rtype, resource_id, json_body(), base_url(),
                                     request.headers.get("If-Match"), selection_for(rtype))
        return _written(outcome, 200)

    @blueprint.patch("/<resource_id>")
    def patch_resource(resource_id: str):
        outcome = _service().patch(g.workspace["id"], rtype, resource_id, json_body(), base_url(),
                                   request.headers.get("If-Match"), selection_for(rtype))
        if current_app.config["CONTRACT"].policies.patch_response == 204:
            g.dropped_attributes = outcome.dropped
            return scim_response(None, 204, {"ETag": outcome.etag})
        return _written(outcome, 200)

    @blueprint.delete("/<resource_id>")
    def delete_resource(resource_id: str):
        _service().delete(g.workspace["id"], rtype, resource_id, request.headers.get("If-Match"))
        return scim_response(None, 204)

    return blueprint
