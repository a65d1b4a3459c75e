"""An in-process server for simulations and tests: a temporary (or given) database, one workspace with a
fresh SCIM token and admin key, and the app served by waitress on a free loopback port in a background thread."""
from __future__ import annotations

import tempfile
import threading
from pathlib import Path

from waitress import wasyncore
from waitress.server import create_server

from server.admin_keys import generate_admin_key
from server.app import MAX_BODY_BYTES, SCIM_PREFIX, create_app
from server.http.admin import ADMIN_PREFIX
from server.storage import Store
from server.tokens import generate_token

DEFAULT_WORKSPACE = "default"


class EmbeddedServer:
    def __init__(self, db_path: str | None = None, workspace: str = DEFAULT_WORKSPACE, contract=None,
                 threads: int = 8):
        self._tempdir = None if db_path else tempfile.TemporaryDirectory(prefix="scimharness-")
        self.db_path = db_path or str(Path(self._tempdir.name) / "scim.db")
        self.app = create_app(self.db_path, contract)
        store = Store(self.db_path)
        self.token = generate_token(store, workspace)
        self.admin_key = generate_admin_key(store, workspace)  # lets a simulation seed activity and verify
        self._server = create_server(self.app, host="127.0.0.1", port=0, threads=threads,
                                     max_request_body_size=MAX_BODY_BYTES)
        origin = f"http://127.0.0.1:{self._server.effective_port}"
        self.base_url = origin + SCIM_PREFIX
        self.admin_base_url = origin + ADMIN_PREFIX
        self._thread = threading.Thread(target=self._server.run, name="scimharness-embedded", daemon=True)

    def __enter__(self) -> EmbeddedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        # Close every socket on the serve loop's own thread: closing them from here races its select() and
        # leaves the loop waiting out its timeout.
        self._server.trigger.pull_trigger(lambda: wasyncore.close_all(self._server._map))
        self._thread.join(timeout=5)
        self._server.task_dispatcher.shutdown()
        if self._tempdir:
            self._tempdir.cleanup()
