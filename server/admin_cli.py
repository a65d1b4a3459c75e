"""Workspace administration commands of `scimharness`: `workspace create|list`, `admin-key generate`, `members`
and `log`, all reading the database directly, all with `--db` and `--json`."""
from __future__ import annotations

import json
import sys

from server.admin_keys import generate_admin_key, has_admin_key
from server.cli import db_argument
from server.http.admin import ADMIN_PREFIX
from server.members import ACTIVE, REVOKED, Members
from server.request_log import RequestLog
from server.storage import Store
from server.tokens import ensure_workspace

DEFAULT_WORKSPACE = "default"


def register(subparsers) -> None:
    _register_workspace(subparsers)
    _register_admin_key(subparsers)
    _register_members(subparsers)
    _register_log(subparsers)


def _register_workspace(subparsers) -> None:
    workspace = subparsers.add_parser("workspace", help="create and list workspaces (the unit of isolation)",
                                      description="Each workspace has its own SCIM token, admin key, users, groups, "
                                                  "members, activity and request log.")
    actions = workspace.add_subparsers(dest="workspace_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create an empty workspace",
                                description="Create a workspace. Then issue its SCIM token with `scimharness token "
                                            "generate` and its admin key with `scimharness admin-key generate`.")
    create.add_argument("name", help="workspace name (unique)")
    _common(create)
    create.set_defaults(handler=workspace_create_command)
    listing = actions.add_parser("list", help="list workspaces with their credentials and member counts",
                                 description="List every workspace: whether a SCIM token and an admin key are set, "
                                             "members by access state, and request-log size.")
    _common(listing)
    listing.set_defaults(handler=workspace_list_command)


def _register_admin_key(subparsers) -> None:
    admin_key = subparsers.add_parser("admin-key", help="manage a workspace's admin key for the /api admin API")
    actions = admin_key.add_subparsers(dest="admin_key_command", metavar="ACTION", required=True)
    generate = actions.add_parser(
        "generate", help="generate a new admin key (shown once; invalidates the previous one)",
        description=f"Print a new admin key for the workspace's admin API under {ADMIN_PREFIX}, creating the "
                    "workspace if needed. Only its hash is stored: copy it now. Generating another invalidates this "
                    "one immediately. Send it as 'Authorization: Bearer <key>'.")
    _common(generate, workspace=True)
    generate.set_defaults(handler=admin_key_generate_command)


def _register_members(subparsers) -> None:
    members = subparsers.add_parser(
        "members", help="list a workspace's members with access state and activity count",
        description="Every user ever provisioned by SCIM is a member: 'active' while the SCIM user exists and is "
                    "active, 'revoked' once deactivated or deleted. History stays with the member either way.")
    _common(members, workspace=True)
    members.add_argument("--access", choices=(ACTIVE, REVOKED), help="only members in this access state")
    members.set_defaults(handler=members_command)


def _register_log(subparsers) -> None:
    log = subparsers.add_parser(
        "log", help="show the SCIM request log",
        description="Show the most recent SCIM requests the server received: time, method, path and query, status, "
                    "duration, the IdP the User-Agent suggests, dropped attributes, and for failures the request "
                    "and response bodies. Tokens are never logged. Without --workspace, requests of every "
                    "workspace are shown, and those no token authenticated.")
    db_argument(log)
    log.add_argument("--workspace", help="only this workspace (default: all)")
    log.add_argument("--failures", action="store_true", help="only failed requests (status >= 400 or a failed "
                                                            "bulk operation)")
    log.add_argument("--limit", type=int, default=50, help="at most this many, the newest (default: %(default)s)")
    log.add_argument("--json", action="store_true", help="print the entries as a JSON list")
    log.set_defaults(handler=log_command)


def _common(parser, workspace: bool = False) -> None:
    db_argument(parser)
    if workspace:
        parser.add_argument("--workspace", default=DEFAULT_WORKSPACE, help="workspace name (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


# --- handlers ------------------------------------------------------------------------------------


def workspace_create_command(args) -> int:
    store = Store(args.db)
    if store.workspace_by_name(args.name):
        return _fail(args, f"a workspace named '{args.name}' already exists")
    workspace = ensure_workspace(store, args.name)
    shown = {"id": workspace["id"], "name": workspace["name"], "created": workspace["created"]}
    _print(args, shown, f"Created workspace '{args.name}' ({workspace['id']}).\nNext: `scimharness token generate "
                        f"--workspace {args.name}` and `scimharness admin-key generate --workspace {args.name}`.")
    return 0


def workspace_list_command(args) -> int:
    store = Store(args.db)
    members = Members(store)
    rows = [{"id": ws["id"], "name": ws["name"], "created": ws["created"],
             "scim_token_created": ws["token_created"], "admin_key": has_admin_key(store, ws["id"]),
             "members": members.counts(ws["id"])} for ws in store.workspaces()]
    table = [[r["name"], r["id"], r["created"], r["scim_token_created"] or "none", "yes" if r["admin_key"] else "no",
              str(r["members"][ACTIVE]), str(r["members"][REVOKED])] for r in rows]
    _print(args, rows, _table(["NAME", "ID", "CREATED", "SCIM TOKEN SINCE", "ADMIN KEY", "ACTIVE", "REVOKED"], table)
           if rows else "No workspaces yet: `scimharness workspace create NAME`.")
    return 0


def admin_key_generate_command(args) -> int:
    key = generate_admin_key(Store(args.db), args.workspace)
    _print(args, {"workspace": args.workspace, "admin_key": key},
           f"Workspace: {args.workspace}\nAdmin key: {key}\n\nCopy the key now: it is not shown again. Generating a "
           f"new one invalidates this one. Use it as 'Authorization: Bearer <key>' on {ADMIN_PREFIX}/.")
    return 0


def members_command(args) -> int:
    store = Store(args.db)
    workspace = store.workspace_by_name(args.workspace)
    if workspace is None:
        return _fail(args, f"no workspace named '{args.workspace}' (see `scimharness workspace list`)")
    found = Members(store).list(workspace["id"], args.access)
    table = [[m["user_name"], m["id"], m["access"] + (f" ({m['revoked_because']})" if m["revoked_because"] else ""),
              str(m["activity_count"])] for m in found]
    _print(args, found, _table(["USER NAME", "ID", "ACCESS", "ACTIVITY"], table) if found
           else f"No members in '{args.workspace}'" + (f" with access {args.access}." if args.access else "."))
    return 0


def log_command(args) -> int:
    store = Store(args.db)
    workspace_id = None
    if args.workspace:
        workspace = store.workspace_by_name(args.workspace)
        if workspace is None:
            return _fail(args, f"no workspace named '{args.workspace}' (see `scimharness workspace list`)")
        workspace_id = workspace["id"]
    entries = RequestLog(store).entries(workspace_id, every_workspace=not args.workspace, failures=args.failures,
                                        limit=max(args.limit, 1))
    _print(args, entries, "\n".join(_log_line(e) for e in entries) or "No matching requests logged.")
    return 0


# --- output --------------------------------------------------------------------------------------


def _log_line(entry: dict) -> str:
    line = (f"{entry['at']}  {entry['workspace'] or '(no workspace)'}  {entry['method']} {entry['path']}  "
            f"{entry['status']}  {entry['duration_ms']:.1f}ms  idp={entry['idp']}")
    if entry["dropped_attributes"]:
        line += "  dropped=" + ",".join(entry["dropped_attributes"])
    if entry["failed"]:
        line += f"\n    request:  {entry['request_body'] or '(no body)'}\n    response: {entry['response_body'] or '(no body)'}"
    return line


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    return "\n".join("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip()
                     for row in [headers, *rows])


def _print(args, data, text: str) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False) if args.json else text)


def _fail(args, message: str) -> int:
    if args.json:
        print(json.dumps({"error": message}))
    print(f"scimharness {args.command}: {message}", file=sys.stderr)
    return 1
