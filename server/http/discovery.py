"""Discovery endpoints (RFC 7644 §4): /ServiceProviderConfig, /Schemas, /ResourceTypes, all generated from
the loaded contract so they say exactly what the server does; plus the root-level /.search."""
from __future__ import annotations

from flask import Blueprint, current_app, g

from server.http.wire import base_url, json_body, scim_response, selection_for
from server.scim.errors import not_found
from server.scim.projection import Selection
from server.scim.responses import list_response

blueprint = Blueprint("discovery", __name__)


def _contract():
    return current_app.config["CONTRACT"]


@blueprint.get("/ServiceProviderConfig")
def service_provider_config():
    return scim_response(_contract().service_provider_config(f"{base_url()}/ServiceProviderConfig"))


@blueprint.get("/Schemas")
def schemas():
    found = [s.to_scim(f"{base_url()}/Schemas/{s.id}") for s in _contract().schemas]
    return scim_response(list_response(found, len(found), 1))


@blueprint.get("/Schemas/<schema_id>")
def schema(schema_id: str):
    found = _contract().schema(schema_id)
    if found is None:
        raise not_found(f"Schema '{schema_id}' not found.")
    return scim_response(found.to_scim(f"{base_url()}/Schemas/{found.id}"))


@blueprint.get("/ResourceTypes")
def resource_types():
    found = [rt.to_scim(f"{base_url()}/ResourceTypes/{rt.name}") for rt in _contract().resource_types]
    return scim_response(list_response(found, len(found), 1))


@blueprint.get("/ResourceTypes/<name>")
def resource_type(name: str):
    found = next((rt for rt in _contract().resource_types if rt.name.lower() == name.lower()), None)
    if found is None:
        raise not_found(f"ResourceType '{name}' not found.")
    return scim_response(found.to_scim(f"{base_url()}/ResourceTypes/{found.name}"))


@blueprint.post("/.search")
def search_everything():
    body = json_body()
    rtypes = list(_contract().resource_types)
    # attributes at the root apply to every type; each type ignores names it does not have.
    selection = selection_for(rtypes[0], body) if (body.get("attributes") or body.get("excludedAttributes")) \
        else Selection()
    return scim_response(current_app.config["SERVICE"].search(
        g.workspace["id"], rtypes, body.get("filter"), body.get("startIndex"), body.get("count"), base_url(),
        selection))
