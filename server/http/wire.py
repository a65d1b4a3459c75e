"""The SCIM wire for Flask: reading JSON bodies, content negotiation, authentication, and turning every
error (ours or Werkzeug's) into a SCIM error response in one place."""
from __future__ import annotations

import json
import logging
import re

from flask import Blueprint, Response, current_app, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from server.scim.errors import ScimError, invalid_syntax, invalid_value
from server.scim.projection import Selection, parse_selection
from server.scim.schema import ResourceType
from server.tokens import workspace_for_authorization

SCIM_MEDIA_TYPE = "application/scim+json"
JSON_MEDIA_TYPES = (SCIM_MEDIA_TYPE, "application/json")
MAX_JSON_DEPTH = 32  # a SCIM bulk request nests about 6 deep
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
log = logging.getLogger("scimharness.server")


def scim_response(body: dict | None, status: int = 200, headers: dict | None = None) -> Response:
    """A response in the media type the client accepts (see `response_media_type`)."""
    if body is None:
        return Response(status=status, headers=headers)
    return Response(json.dumps(body, ensure_ascii=False), status=status, headers=headers,
                    content_type=f"{response_media_type(request.headers.get('Accept'))}; charset=utf-8")


def response_media_type(accept: str | None) -> str:
    """SCIM's own media type, unless the Accept header takes plain JSON and nothing that covers SCIM's (OneLogin
    documents application/json). Parameters such as charset are ignored; an unmet Accept still gets SCIM JSON."""
    takes_scim = takes_json = False
    for entry in (accept or "").split(","):
        media_range, *params = [part.strip().lower() for part in entry.split(";")]
        if _quality(params) <= 0:
            continue
        takes_scim |= media_range in (SCIM_MEDIA_TYPE, "application/*", "*/*")
        takes_json |= media_range == "application/json"
    return "application/json" if takes_json and not takes_scim else SCIM_MEDIA_TYPE


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def json_body() -> dict:
    """The request's JSON object; any JSON media type (or none) is accepted, with or without charset."""
    mimetype = request.mimetype
    if mimetype and mimetype not in JSON_MEDIA_TYPES and not mimetype.endswith("+json"):
        raise ScimError(415, f"Content-Type '{request.content_type}' is not supported; send {SCIM_MEDIA_TYPE}.")
    try:
        body = decode_json(request.get_data(cache=True))
    except ValueError as error:
        raise invalid_syntax(f"The request body is not valid JSON: {error}.") from None
    if not isinstance(body, dict):
        raise invalid_syntax("The request body must be a JSON object.")
    return body


def decode_json(raw: bytes) -> object:
    """Parse a request body, refusing (ValueError) what would fail later: nesting deeper than any SCIM message
    needs (Python's parser would overflow its stack) and lone surrogates, which no database or UTF-8 reply holds."""
    try:
        value = json.loads(raw or b"null")
    except RecursionError:
        raise ValueError(f"it nests deeper than {MAX_JSON_DEPTH} levels") from None
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"it nests deeper than {MAX_JSON_DEPTH} levels")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
        elif isinstance(item, str) and LONE_SURROGATE.search(item):
            raise ValueError("it contains a lone UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode text")
    return value


def selection_for(rtype: ResourceType, source: dict | None = None) -> Selection:
    """`attributes`/`excludedAttributes` from the query string, or from a /.search body."""
    source = source if source is not None else request.args
    return parse_selection(rtype, _as_text(source.get("attributes")), _as_text(source.get("excludedAttributes")))


def _as_text(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    raise invalid_value("'attributes' and 'excludedAttributes' take a comma-separated string or a list of strings.")


def base_url() -> str:
    return request.url_root.rstrip("/") + current_app.config["SCIM_PREFIX"]


def authenticate() -> None:
    workspace = workspace_for_authorization(current_app.config["STORE"], request.headers.get("Authorization"))
    if workspace is None:
        raise ScimError(401, "Authentication failed: send the workspace's SCIM token as 'Authorization: Bearer "
                             "<token>'. A regenerated token replaces the previous one.",
                        headers={"WWW-Authenticate": 'Bearer realm="scim"'})
    g.workspace = workspace


def register_error_handlers(blueprint: Blueprint) -> None:
    @blueprint.app_errorhandler(ScimError)
    def scim_error(error: ScimError):
        return scim_response(error.to_scim(), error.status, error.headers)

    @blueprint.app_errorhandler(HTTPException)
    def http_error(error: HTTPException):
        headers = dict(error.get_headers())
        headers.pop("Content-Type", None)
        detail = error.description or error.name
        if isinstance(error, RequestEntityTooLarge):
            detail = f"The request body is larger than this endpoint accepts ({request.max_content_length} bytes)."
        return scim_response(ScimError(error.code or 500, detail).to_scim(), error.code or 500, headers)

    @blueprint.app_errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unexpected error")
        return scim_response(ScimError(500, "Internal error; the request was not applied.").to_scim(), 500)
