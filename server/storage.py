"""SQLite storage through sqlite-utils: workspaces, token hashes, SCIM resources and group memberships.
Knows nothing of HTTP or SCIM's wire format; a filter reaches it only as a compiled SQL fragment."""
from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

import sqlite_utils

from server.storage_filter import register_functions

BUSY_TIMEOUT_MS = 10_000


def now_timestamp() -> str:
    """Fixed-width UTC timestamp, so text order in SQL is time order."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Store:
    """One database file; a connection per thread, WAL so readers never wait for the writer."""

    def __init__(self, path: str):
        self.path = path
        self._local = threading.local()
        self._create_tables(self.db)

    @property
    def db(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                         timeout=BUSY_TIMEOUT_MS / 1000)
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA foreign_keys = ON")
            register_functions(connection)
            db = self._local.db = sqlite_utils.Database(connection)
        return db

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.conn.close()
            self._local.db = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction; BEGIN IMMEDIATE takes the write lock up front so two writers never
        deadlock upgrading read locks."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @staticmethod
    def _create_tables(db: sqlite_utils.Database) -> None:
        if "workspaces" in db.table_names():
            return
        db["workspaces"].create({"id": str, "name": str, "created": str, "token_hash": str,
                                 "token_created": str}, pk="id")
        db["workspaces"].create_index(["name"], unique=True)
        db["workspaces"].create_index(["token_hash"])
        db["resources"].create({
            "id": str, "workspace_id": str, "resource_type": str, "name_key": str, "external_id": str,
            "active": int, "created": str, "last_modified": str, "version": int, "data": str,
        }, pk="id", foreign_keys=[("workspace_id", "workspaces", "id")])
        db["resources"].create_index(["workspace_id", "resource_type", "name_key"], unique=True)
        db["resources"].create_index(["workspace_id", "resource_type", "external_id"])
        db["group_members"].create({"workspace_id": str, "group_id": str, "member_id": str, "member_type": str},
                                   pk=("group_id", "member_id"))
        db["group_members"].create_index(["member_id"])

    # --- workspaces and tokens -------------------------------------------------------------------

    def create_workspace(self, workspace_id: str, name: str) -> None:
        with self.transaction() as db:
            db["workspaces"].insert({"id": workspace_id, "name": name, "created": now_timestamp()})

    def workspace_by_name(self, name: str) -> dict | None:
        rows = list(self.db["workspaces"].rows_where("name = ?", [name]))
        return rows[0] if rows else None

    def workspaces(self) -> list[dict]:
        return list(self.db["workspaces"].rows_where(order_by="created"))

    def set_token_hash(self, workspace_id: str, token_hash: str) -> None:
        with self.transaction() as db:
            db["workspaces"].update(workspace_id, {"token_hash": token_hash, "token_created": now_timestamp()})

    def workspace_for_token_hash(self, token_hash: str) -> dict | None:
        rows = list(self.db["workspaces"].rows_where("token_hash = ?", [token_hash]))
        return rows[0] if rows else None

    # --- resources -------------------------------------------------------------------------------

    def get_resource(self, workspace_id: str, resource_type: str, resource_id: str,
                     db: sqlite_utils.Database | None = None) -> dict | None:
        rows = list((db or self.db).query(
            "SELECT * FROM resources WHERE id = ? AND workspace_id = ? AND resource_type = ?",
            [resource_id, workspace_id, resource_type]))
        return _decode(rows[0]) if rows else None

    def name_taken(self, db, workspace_id: str, resource_type: str, name_key: str, except_id: str = "") -> bool:
        rows = db.execute(
            "SELECT 1 FROM resources WHERE workspace_id = ? AND resource_type = ? AND name_key = ? AND id != ?",
            [workspace_id, resource_type, name_key, except_id]).fetchall()
        return bool(rows)

    def insert_resource(self, db, row: dict) -> None:
        db["resources"].insert(_encode(row))

    def update_resource(self, db, row: dict) -> None:
        db["resources"].update(row["id"], _encode(row))

    def delete_resource(self, db, resource_id: str) -> None:
        db.execute("DELETE FROM group_members WHERE group_id = ? OR member_id = ?", [resource_id, resource_id])
        db.execute("DELETE FROM resources WHERE id = ?", [resource_id])

    def search(self, workspace_id: str, resource_type: str, where: str, params: list,
               start_index: int, count: int) -> tuple[int, list[dict]]:
        """Rows matching a compiled filter, in insertion order; start_index is 1-based."""
        condition = "r.workspace_id = ? AND r.resource_type = ?" + (f" AND ({where})" if where else "")
        args = [workspace_id, resource_type, *params]
        total = self.db.execute(f"SELECT count(*) FROM resources r WHERE {condition}", args).fetchone()[0]
        if count <= 0:
            return total, []
        rows = self.db.query(
            f"SELECT r.* FROM resources r WHERE {condition} ORDER BY r.rowid LIMIT ? OFFSET ?",
            [*args, count, start_index - 1])
        return total, [_decode(row) for row in rows]

    def existing_ids(self, db, workspace_id: str, ids: list[str]) -> dict[str, str]:
        """Map of id -> resource type for those ids that exist in the workspace."""
        found: dict[str, str] = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            for rid, rtype in db.execute(
                    f"SELECT id, resource_type FROM resources WHERE workspace_id = ? AND id IN ({marks})",
                    [workspace_id, *chunk]):
                found[rid] = rtype
        return found

    # --- group members ---------------------------------------------------------------------------

    def members(self, group_ids: list[str]) -> dict[str, list[dict]]:
        """Members of each group ({value, type}), in the order they were added."""
        return {group_id: [{"value": member_id, "type": member_type} for member_id, member_type in links]
                for group_id, links in self._links("group_id", "member_id", group_ids).items()}

    def groups_of(self, member_ids: list[str]) -> dict[str, list[str]]:
        """Ids of the groups each user or group is a direct member of."""
        return {member_id: [group_id for group_id, _ in links]
                for member_id, links in self._links("member_id", "group_id", member_ids).items()}

    def _links(self, owner: str, other: str, ids: list[str]) -> dict[str, list[tuple[str, str]]]:
        by_owner: dict[str, list[tuple[str, str]]] = {i: [] for i in ids}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(f"SELECT {owner}, {other}, member_type FROM group_members "
                                   f"WHERE {owner} IN ({marks}) ORDER BY rowid", chunk)
            for owner_id, other_id, member_type in rows:
                by_owner[owner_id].append((other_id, member_type))
        return by_owner

    def add_members(self, db, workspace_id: str, group_id: str, members: dict[str, str]) -> None:
        if not members:
            return
        db.conn.executemany(
            "INSERT OR IGNORE INTO group_members (workspace_id, group_id, member_id, member_type) VALUES (?,?,?,?)",
            [(workspace_id, group_id, mid, mtype) for mid, mtype in members.items()])

    def remove_members(self, db, group_id: str, member_ids: list[str]) -> None:
        db.conn.executemany("DELETE FROM group_members WHERE group_id = ? AND member_id = ?",
                       [(group_id, mid) for mid in member_ids])

    def clear_members(self, db, group_id: str) -> None:
        db.execute("DELETE FROM group_members WHERE group_id = ?", [group_id])


def _encode(row: dict) -> dict:
    return {**row, "data": json.dumps(row["data"], ensure_ascii=False)}


def _decode(row: dict) -> dict:
    return {**row, "data": json.loads(row["data"])}


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
