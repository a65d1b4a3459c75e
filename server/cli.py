"""Server-side commands of `scimharness`: `serve` runs the SCIM service, `token generate` issues a
workspace's bearer token (shown once; the previous one stops working)."""
from __future__ import annotations

import argparse
import json
import os
import sys

from server.app import DB_ENV, MAX_BODY_BYTES, SCIM_PREFIX, create_app
from server.storage import Store
from server.tokens import generate_token

DEFAULT_PORT = 8000


def register(subparsers) -> None:
    serve = subparsers.add_parser(
        "serve", help="run the SCIM 2.0 service provider",
        description="Serve the SCIM 2.0 API at http://HOST:PORT/scim/v2 with waitress (threaded). Create a "
                    "token first with `scimharness token generate`.")
    db_argument(serve)
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default: %(default)s)")
    serve.add_argument("--threads", type=int, default=8, help="worker threads (default: %(default)s)")
    serve.add_argument("--contract", default="seed",
                       help="contract name (seed, full) or JSON file describing the service provider "
                            "(default: %(default)s)")
    serve.set_defaults(handler=serve_command)

    token = subparsers.add_parser("token", help="manage a workspace's SCIM bearer token")
    token_commands = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    generate = token_commands.add_parser(
        "generate", help="generate a new token (shown once; invalidates the previous one)",
        description="Print the SCIM Base URL and a new bearer token for a workspace, creating the workspace if "
                    "needed. The token is shown only this once and only its hash is stored; generating another "
                    "invalidates this one immediately.")
    db_argument(generate)
    generate.add_argument("--workspace", default="default", help="workspace name (default: %(default)s)")
    generate.add_argument("--server-url", default=f"http://127.0.0.1:{DEFAULT_PORT}",
                          help="where the server is reached, for the Base URL (default: %(default)s)")
    generate.add_argument("--json", action="store_true", help="print {workspace, base_url, token} as JSON")
    generate.set_defaults(handler=token_generate_command)


def db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=os.environ.get(DB_ENV), required=not os.environ.get(DB_ENV),
                        help=f"SQLite database file (created if missing; or set {DB_ENV})")


def token_generate_command(args) -> int:
    token = generate_token(Store(args.db), args.workspace)
    base_url = args.server_url.rstrip("/") + SCIM_PREFIX
    if args.json:
        print(json.dumps({"workspace": args.workspace, "base_url": base_url, "token": token}))
    else:
        print(f"Workspace:    {args.workspace}\nBase URL:     {base_url}\nBearer token: {token}\n\n"
              "Copy the token now: it is not shown again. Generating a new one invalidates this one.")
    return 0


def serve_command(args) -> int:
    from waitress import serve

    try:
        app = create_app(args.db, args.contract)
    except (OSError, ValueError, KeyError) as error:
        print(f"scimharness serve: cannot start: {error}", file=sys.stderr)
        return 2
    # waitress: a production WSGI server in pure Python (no C build, runs everywhere) with a thread pool,
    # which SQLite in WAL mode serves well: readers never wait, writers queue on the busy timeout. It buffers a
    # body before the app sees it, so its own limit refuses an oversized one unread.
    print(f"SCIM base URL: http://{args.host}:{args.port}{SCIM_PREFIX} (waitress, {args.threads} threads)", flush=True)
    serve(app, host=args.host, port=args.port, threads=args.threads, ident="scimharness",
          max_request_body_size=MAX_BODY_BYTES)
    return 0
