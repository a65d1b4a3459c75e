"""Workspaces and their SCIM bearer tokens: a token is shown once, only its hash is stored, and generating
a new one replaces the old at once."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

from server.storage import Store

TOKEN_PREFIX = "scimh_"


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash cannot be brute-forced; a slow KDF would only slow every request.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def ensure_workspace(store: Store, name: str) -> dict:
    workspace = store.workspace_by_name(name)
    if workspace is None:
        store.create_workspace(uuid.uuid4().hex, name)
        workspace = store.workspace_by_name(name)
    return workspace


def generate_token(store: Store, workspace_name: str) -> str:
    """Create the workspace if needed, give it a new token and return the token (the only time it is seen)."""
    workspace = ensure_workspace(store, workspace_name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    store.set_token_hash(workspace["id"], hash_token(token))
    return token


def workspace_for_authorization(store: Store, header: str | None) -> dict | None:
    """The workspace whose token an `Authorization: Bearer …` header carries, or None."""
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    presented = hash_token(token)
    workspace = store.workspace_for_token_hash(presented)
    if workspace is None or not hmac.compare_digest(workspace["token_hash"], presented):
        return None
    return workspace
