"""Workspace membership and activity: every SCIM user is a member whose access follows the user (revoked on
deactivation or deletion, restored on reactivation), and whose activity history outlives the SCIM resource."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from server.storage import Store, first_row, insert_row, now_timestamp, update_row

ACTIVE, REVOKED = "active", "revoked"
DEACTIVATED, DELETED = "deactivated", "deleted"
MAX_KIND_LENGTH = 64

# Owned here rather than in storage.py so the SCIM tables stay untouched; IF NOT EXISTS makes it idempotent.
SCHEMA = """
CREATE TABLE IF NOT EXISTS members (
    user_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    user_name TEXT NOT NULL,
    access TEXT NOT NULL,
    revoked_because TEXT,
    joined TEXT NOT NULL,
    access_changed TEXT NOT NULL,
    deleted TEXT
);
CREATE INDEX IF NOT EXISTS members_by_workspace ON members (workspace_id, joined);
CREATE TABLE IF NOT EXISTS activity (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    user_id TEXT NOT NULL REFERENCES members(user_id),
    kind TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS activity_by_member ON activity (workspace_id, user_id, at);
"""


class MemberError(Exception):
    """A refused membership operation; `code` is a stable machine-readable reason."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


@dataclass(frozen=True)
class Activity:
    kind: str
    at: str


class Members:
    def __init__(self, store: Store):
        self.store = store
        store.db.conn.executescript(SCHEMA)

    # --- hooks called by ScimService inside its write transaction -------------------------------

    def on_resource_written(self, db, row: dict) -> None:
        """Keep the member record and its access in step with a User just inserted or updated."""
        if row["resource_type"] != "User":
            return
        access = ACTIVE if row["active"] else REVOKED
        existing = self._member(db, row["workspace_id"], row["id"])
        if existing is None:
            stamp = now_timestamp()
            insert_row(db, "members", {"user_id": row["id"], "workspace_id": row["workspace_id"],
                                       "user_name": row["data"]["userName"], "access": access,
                                       "revoked_because": None if access == ACTIVE else DEACTIVATED,
                                       "joined": stamp, "access_changed": stamp, "deleted": None})
            return
        changes = {"user_name": row["data"]["userName"]}
        if existing["access"] != access:
            changes.update(access=access, access_changed=now_timestamp(),
                           revoked_because=None if access == ACTIVE else DEACTIVATED)
        update_row(db, "members", "user_id", row["id"], changes)

    def on_resource_deleted(self, db, row: dict) -> None:
        """Revoke a deleted User's access but keep the member, so its history stays with the workspace."""
        if row["resource_type"] != "User" or self._member(db, row["workspace_id"], row["id"]) is None:
            return
        stamp = now_timestamp()
        update_row(db, "members", "user_id", row["id"], {"access": REVOKED, "revoked_because": DELETED,
                                                         "access_changed": stamp, "deleted": stamp})

    # --- reads -----------------------------------------------------------------------------------

    def list(self, workspace_id: str, access: str | None = None) -> list[dict]:
        """Members in join order, each with its activity count."""
        if access:
            return self._select("m.workspace_id = ? AND m.access = ?", [workspace_id, access])
        return self._select("m.workspace_id = ?", [workspace_id])

    def get(self, workspace_id: str, user_id: str) -> dict:
        found = self._select("m.workspace_id = ? AND m.user_id = ?", [workspace_id, user_id])
        if not found:
            raise MemberError(404, "unknown_member", f"No member '{user_id}' in this workspace.")
        return found[0]

    def _select(self, condition: str, args: list) -> list[dict]:
        rows = self.store.db.query(
            f"""SELECT m.*, (SELECT count(*) FROM activity a
                                   WHERE a.workspace_id = m.workspace_id AND a.user_id = m.user_id) AS activity_count
                FROM members m WHERE {condition} ORDER BY m.joined, m.rowid""", args)
        return [_public(row) for row in rows]

    def activity(self, workspace_id: str, user_id: str) -> list[Activity]:
        self.get(workspace_id, user_id)
        rows = self.store.db.execute(
            "SELECT kind, at FROM activity WHERE workspace_id = ? AND user_id = ? ORDER BY at, id",
            [workspace_id, user_id]).fetchall()
        return [Activity(kind, at) for kind, at in rows]

    def counts(self, workspace_id: str) -> dict[str, int]:
        rows = self.store.db.execute("SELECT access, count(*) FROM members WHERE workspace_id = ? GROUP BY access",
                                     [workspace_id]).fetchall()
        return {ACTIVE: 0, REVOKED: 0, **dict(rows)}

    # --- activity --------------------------------------------------------------------------------

    def record_activity(self, workspace_id: str, user_id: str, kind: str, at: str | None = None) -> Activity:
        """Record product usage; refused once the member's access is revoked. The access check and the insert
        share one write transaction so a concurrent deactivation cannot slip between them."""
        entry = Activity(_valid_kind(kind), _valid_time(at))
        with self.store.transaction() as db:
            member = self._member(db, workspace_id, user_id)
            if member is None:
                raise MemberError(404, "unknown_member", f"No member '{user_id}' in this workspace.")
            if member["access"] != ACTIVE:
                raise MemberError(403, "access_revoked",
                                  f"Member '{member['user_name']}' has no workspace access (user "
                                  f"{member['revoked_because']} via SCIM); activity is not recorded.")
            db["activity"].insert({"workspace_id": workspace_id, "user_id": user_id, **entry.__dict__})
        return entry

    @staticmethod
    def _member(db, workspace_id: str, user_id: str) -> dict | None:
        return first_row(db, "SELECT * FROM members WHERE user_id = ? AND workspace_id = ?", [user_id, workspace_id])


def _public(row: dict) -> dict:
    return {"id": row["user_id"], "user_name": row["user_name"], "access": row["access"],
            "revoked_because": row["revoked_because"], "scim_deleted": row["deleted"] is not None,
            "joined": row["joined"], "access_changed": row["access_changed"],
            "activity_count": row["activity_count"]}


def _valid_kind(kind) -> str:
    if not isinstance(kind, str) or not kind.strip() or len(kind) > MAX_KIND_LENGTH:
        raise MemberError(400, "invalid_kind",
                          f"'kind' must be a non-empty string of at most {MAX_KIND_LENGTH} characters, "
                          "such as 'generation' or 'login'.")
    return kind.strip()


def _valid_time(at) -> str:
    """An ISO 8601 time in the store's fixed-width UTC form; now when absent."""
    if at is None:
        return now_timestamp()
    try:
        parsed = datetime.fromisoformat(str(at).replace("Z", "+00:00"))
    except ValueError:
        raise MemberError(400, "invalid_time", f"'at' must be an ISO 8601 time, not {at!r}.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
