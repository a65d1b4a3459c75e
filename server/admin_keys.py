"""Workspace admin keys for the /api admin API: like the SCIM token, shown once, stored only as a hash, and
replaced at once when a new one is generated. A SCIM token never works as an admin key, nor the reverse."""
from __future__ import annotations

import hmac
import secrets

from server.storage import Store, now_timestamp
from server.tokens import ensure_workspace, hash_token

ADMIN_KEY_PREFIX = "scimha_"

SCHEMA = """
CREATE TABLE IF NOT EXISTS admin_keys (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces(id),
    key_hash TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS admin_keys_by_hash ON admin_keys (key_hash);
"""


def ensure_schema(store: Store) -> None:
    store.db.conn.executescript(SCHEMA)


def generate_admin_key(store: Store, workspace_name: str) -> str:
    """Create the workspace if needed (as `token generate` does), give it a new admin key and return the key."""
    ensure_schema(store)
    workspace = ensure_workspace(store, workspace_name)
    key = ADMIN_KEY_PREFIX + secrets.token_urlsafe(32)
    with store.transaction() as db:
        db["admin_keys"].upsert({"workspace_id": workspace["id"], "key_hash": hash_token(key),
                                 "created": now_timestamp()}, pk="workspace_id")
    return key


def workspace_for_admin_key(store: Store, header: str | None) -> dict | None:
    """The workspace whose admin key an `Authorization: Bearer …` header carries, or None."""
    scheme, _, key = (header or "").strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key.startswith(ADMIN_KEY_PREFIX):
        return None
    presented = hash_token(key)
    rows = list(store.db.query(
        "SELECT w.*, k.key_hash FROM admin_keys k JOIN workspaces w ON w.id = k.workspace_id WHERE k.key_hash = ?",
        [presented]))
    if not rows or not hmac.compare_digest(rows[0].pop("key_hash"), presented):
        return None
    return rows[0]


def has_admin_key(store: Store, workspace_id: str) -> bool:
    ensure_schema(store)
    return bool(store.db.execute("SELECT 1 FROM admin_keys WHERE workspace_id = ?", [workspace_id]).fetchall())
