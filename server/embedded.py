"""An in-process server for simulations and tests: a temporary (or given) database, one workspace with a
fresh token, and the app served by waitress on a free loopback port in a background thread."""
from __future__ import annotations

import tempfile
import threading
from pathlib import Path

from waitress.server import create_server

from server.app import SCIM_PREFIX, create_app
from server.storage import Store
from server.tokens import generate_token

DEFAULT_WORKSPACE = "default"


class EmbeddedServer:
    def __init__(self, db_path: str | None = None, workspace: str = DEFAULT_WORKSPACE, contract=None,
                 threads: int = 8):
        self._tempdir = None if db_path else tempfile.TemporaryDirectory(prefix="scimharness-")
        self.db_path = db_path or str(Path(self._tempdir.name) / "scim.db")
        self.app = create_app(self.db_path, contract)
        self.token = generate_token(Store(self.db_path), workspace)
        self._server = create_server(self.app, host="127.0.0.1", port=0, threads=threads)
        self.base_url = f"http://127.0.0.1:{self._server.effective_port}{SCIM_PREFIX}"
        self._thread = threading.Thread(target=self._server.run, name="scimharness-embedded", daemon=True)

    def __enter__(self) -> EmbeddedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._server.close()
        self._thread.join(timeout=5)
        if self._tempdir:
            self._tempdir.cleanup()
