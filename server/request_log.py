"""The SCIM request log: one entry per request a workspace receives, bodies only for failures, secrets
redacted before anything is stored, and the oldest entries pruned so each workspace keeps a bounded number."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from server.storage import Store, insert_row, now_timestamp

DEFAULT_LIMIT = 10_000
MAX_BODY_CHARS = 64 * 1024
REDACTED = "[redacted]"
# Our own token and admin-key shapes, any bearer credential, and SCIM passwords: never worth keeping.
SECRET_PATTERNS = (
    (re.compile(r"scimha?_[A-Za-z0-9_\-]+"), REDACTED),
    (re.compile(r"(?i)\b(bearer|basic)\s+[^\s\"',;]+"), r"\1 " + REDACTED),
    (re.compile(r'(?i)("password"\s*:\s*)"(?:[^"\\]|\\.)*"'), r'\1"' + REDACTED + '"'),
)
IDP_SIGNATURES = (("okta", "okta"), ("onelogin", "onelogin"),
                  ("entra", "entra"), ("azure", "entra"), ("microsoft", "entra"), ("aad", "entra"))

SCHEMA = """
CREATE TABLE IF NOT EXISTS request_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT REFERENCES workspaces(id),
    at TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    idp TEXT NOT NULL,
    user_agent TEXT,
    failed INTEGER NOT NULL,
    dropped TEXT,
    request_body TEXT,
    response_body TEXT
);
CREATE INDEX IF NOT EXISTS request_log_by_workspace ON request_log (workspace_id, id);
"""


@dataclass
class LoggedRequest:
    """What the HTTP layer saw; `secrets` are values (the presented token) to scrub wherever they appear."""
    workspace_id: str | None
    method: str
    path: str
    status: int
    duration_ms: float
    user_agent: str | None
    failed: bool
    dropped: list[str] = field(default_factory=list)
    request_body: str | None = None
    response_body: str | None = None
    secrets: tuple[str, ...] = ()


def classify_idp(user_agent: str | None) -> str:
    """okta, onelogin or entra when the User-Agent says so; 'none' when absent (Entra sometimes sends none)."""
    if not user_agent or not user_agent.strip():
        return "none"
    lowered = user_agent.lower()
    return next((idp for signature, idp in IDP_SIGNATURES if signature in lowered), "other")


def redact(text: str | None, secrets: tuple[str, ...] = ()) -> str | None:
    if text is None:
        return None
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RequestLog:
    def __init__(self, store: Store, limit: int = DEFAULT_LIMIT):
        if limit < 1:
            raise ValueError("The request log limit must be at least 1.")
        self.store = store
        self.limit = limit
        self._counts: dict[str | None, int] = {}   # entries each workspace holds, once read
        store.db.conn.executescript(SCHEMA)

    def record(self, entry: LoggedRequest) -> None:
        """Store one entry and prune its workspace's oldest beyond the limit, in one transaction."""
        def clean(text):
            return _truncate(redact(text, entry.secrets))

        row = {"workspace_id": entry.workspace_id, "at": now_timestamp(), "method": entry.method,
               "path": clean(entry.path), "status": entry.status, "duration_ms": round(entry.duration_ms, 2),
               "idp": classify_idp(entry.user_agent), "user_agent": clean(entry.user_agent),
               "failed": int(entry.failed), "dropped": clean(json.dumps(entry.dropped)) if entry.dropped else None,
               "request_body": clean(entry.request_body) if entry.failed else None,
               "response_body": clean(entry.response_body) if entry.failed else None}
        with self.store.transaction() as db:
            insert_row(db, "request_log", row)
            self._prune(db, entry.workspace_id)

    def _prune(self, db, workspace_id: str | None) -> None:
        """Keep the workspace's newest `limit` entries. Each workspace's count is read once, then kept in step
        with the inserts (writers are serialised by the transaction), so pruning costs nothing until the log is
        full and one indexed delete after that."""
        same_workspace = "workspace_id IS ?"  # IS matches NULL too: unattributed requests share one budget
        count = self._counts.get(workspace_id)
        if count is None:
            count = db.execute(f"SELECT count(*) FROM request_log WHERE {same_workspace}", [workspace_id]).fetchone()[0]
        else:
            count += 1
        excess = count - self.limit
        if excess > 0:
            db.execute(f"""DELETE FROM request_log WHERE id IN (
                               SELECT id FROM request_log WHERE {same_workspace} ORDER BY id LIMIT ?)""",
                       [workspace_id, excess])
            count = self.limit
        self._counts[workspace_id] = count

    def entries(self, workspace_id: str | None = None, *, every_workspace: bool = False, failures: bool = False,
                limit: int = 100) -> list[dict]:
        """The most recent entries, oldest first: of one workspace, of requests no workspace's token
        authenticated (workspace_id None), or of all of them."""
        conditions, args = [], []
        if not every_workspace:
            conditions.append("l.workspace_id IS ?")
            args.append(workspace_id)
        if failures:
            conditions.append("l.failed = 1")
        where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
        rows = self.store.db.query(
            f"""SELECT l.*, w.name AS workspace FROM request_log l LEFT JOIN workspaces w ON w.id = l.workspace_id
                {where} ORDER BY l.id DESC LIMIT ?""", [*args, limit])
        return [_public(row) for row in reversed(list(rows))]


def _public(row: dict) -> dict:
    entry = {"id": row["id"], "at": row["at"], "workspace": row["workspace"], "method": row["method"],
             "path": row["path"], "status": row["status"], "duration_ms": row["duration_ms"], "idp": row["idp"],
             "user_agent": row["user_agent"], "failed": bool(row["failed"]),
             "dropped_attributes": json.loads(row["dropped"]) if row["dropped"] else []}
    if row["failed"]:
        entry.update(request_body=row["request_body"], response_body=row["response_body"])
    return entry


def _truncate(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_BODY_CHARS:
        return text
    return text[:MAX_BODY_CHARS] + f"… [{len(text) - MAX_BODY_CHARS} more characters not kept]"
