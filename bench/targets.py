"""The three servers under test, each a WSGI app served by waitress with the same thread count in its own
process: scimharness, scim2-server (in memory) and a bare Flask JSON endpoint, the ceiling for any Flask service."""
from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import requests

WAITRESS_THREADS = 8
TOKEN = "bench-token-" + "0" * 32
TARGETS = ("scimharness", "scim2-server", "bare-flask")


def scimharness_app(db_path: str):
    from server.app import create_app
    from server.storage import Store
    from server.tokens import generate_token

    app = create_app(db_path)
    return app, generate_token(Store(db_path), "bench")


def scim2_server_app():
    from scim2_models import ScimProvider
    from scim2_server.memory import InMemoryStorage
    from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
    from scim2_server.utils import (load_default_resource_types, load_default_schemas,
                                    load_default_service_provider_config)

    config = load_default_service_provider_config()
    config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
    provider = ScimProvider.from_discovery(load_default_schemas().values(),
                                           load_default_resource_types().values(), config=config)
    return BearerTokenApplication(InMemoryStorage(), provider, bearer_tokens=[TOKEN])


def bare_flask_app():
    """Any method on any path: read the JSON body if there is one, answer a small JSON document."""
    from flask import Flask, jsonify, request

    app = Flask("bare")

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST", "PATCH", "DELETE"])
    @app.route("/<path:path>", methods=["GET", "POST", "PATCH", "DELETE"])
    def endpoint(path: str):
        body = request.get_json(silent=True, force=True)
        if request.method == "DELETE":
            return "", 204
        return jsonify({"id": uuid.uuid4().hex, "path": path, "received": len(body or {})}), \
            201 if request.method == "POST" else 200

    return app


def serve(name: str, port: int, db_path: str | None) -> None:
    """Run one target in this process until killed; prints its base URL and token as one JSON line."""
    import logging

    from waitress import serve as waitress_serve

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth is N": expected under load

    token = TOKEN
    if name == "scimharness":
        app, token = scimharness_app(db_path)
        base = "/scim/v2"
    elif name == "scim2-server":
        app, base = scim2_server_app(), "/v2"
    else:
        app, base = bare_flask_app(), "/scim/v2"
    print(json.dumps({"base_url": f"http://127.0.0.1:{port}{base}", "token": token}), flush=True)
    waitress_serve(app, host="127.0.0.1", port=port, threads=WAITRESS_THREADS, ident=name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(name: str, db_path: str | Path | None = None) -> Iterator[tuple[str, str, int]]:
    """Start a target in a subprocess; yields (base URL, token, pid) once it answers, stops it on exit."""
    port = free_port()
    args = [sys.executable, "-m", "bench.targets", name, "--port", str(port)]
    if db_path:
        args += ["--db", str(db_path)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent)
    try:
        started = json.loads(process.stdout.readline() or "{}")
        if not started:
            raise RuntimeError(f"{name} did not start (exit {process.wait(10)})")
        _wait_until_listening(port, process)
        yield started["base_url"], started["token"], process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_until_listening(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and process.poll() is None:
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description="serve one benchmark target under waitress")
    parser.add_argument("name", choices=TARGETS)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", help="scimharness database file")
    args = parser.parse_args()
    serve(args.name, args.port, args.db)


if __name__ == "__main__":
    main()
