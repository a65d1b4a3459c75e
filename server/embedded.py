"""An in-process server for simulations and tests: a temporary (or given) database, one workspace with a
fresh SCIM token and admin key, and the app either called directly (EmbeddedApp) or served by waitress on a free
loopback port in a background thread (EmbeddedServer)."""
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
# Where an EmbeddedApp claims to live: the host name of the URLs it builds (meta.location, $ref).
IN_PROCESS_ORIGIN = "http://scimharness.in-process"


class EmbeddedApp:
    """The app and its credentials, listening nowhere: callers hand requests to `app` as a WSGI callable."""

    def __init__(self, db_path: str | None = None, workspace: str = DEFAULT_WORKSPACE, contract=None):
        self._tempdir = None if db_path else tempfile.TemporaryDirectory(prefix="scimharness-")
        self.db_path = db_path or str(Path(self._tempdir.name) / "scim.db")
        self.app = create_app(self.db_path, contract)
        store = Store(self.db_path)
        self.token = generate_token(store, workspace)
        self.admin_key = generate_admin_key(store, workspace)  # lets a simulation seed activity and verify
        self._set_origin(IN_PROCESS_ORIGIN)

    def _set_origin(self, origin: str) -> None:
        self.base_url = origin + SCIM_PREFIX
        self.admin_base_url = origin + ADMIN_PREFIX

    def __enter__(self) -> EmbeddedApp:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if self._tempdir:
            self._tempdir.cleanup()


class LoopbackServer:
    """Any WSGI app served by waitress on a free 127.0.0.1 port in a daemon thread (the embedded server, the
    recording proxy, a test's deliberately broken server); stopped on leaving the `with`."""

    def __init__(self, app, port: int = 0, threads: int = 8):
        # waitress buffers a body before the app sees it: its own limit refuses an oversized one unread.
        self._server = create_server(app, host="127.0.0.1", port=port, threads=threads,
                                     max_request_body_size=MAX_BODY_BYTES)
        self.url = f"http://127.0.0.1:{self._server.effective_port}"
        self._thread = threading.Thread(target=self._server.run, name="scimharness-loopback", daemon=True)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        # Workers first: one still finishing a request pulls the trigger, which must not be closed under it.
        self._server.task_dispatcher.shutdown()
        if not self._thread.is_alive():
            return
        try:
            # Close every socket on the serve loop's own thread: closing them from here races its select().
            self._server.trigger.pull_trigger(lambda: wasyncore.close_all(self._server._map))
        except OSError:
            # Seen rarely under load: the trigger's descriptor is already gone, so the loop cannot be woken and
            # dies on its next select(); close what is left from here rather than fail the caller.
            wasyncore.close_all(self._server._map, ignore_all=True)
        self._thread.join(timeout=5)


class EmbeddedServer(EmbeddedApp):
    def __init__(self, db_path: str | None = None, workspace: str = DEFAULT_WORKSPACE, contract=None,
                 threads: int = 8):
        super().__init__(db_path, workspace, contract)
        self._loopback = LoopbackServer(self.app, threads=threads)
        self._set_origin(self._loopback.url)

    def __enter__(self) -> EmbeddedServer:
        self._loopback.__enter__()
        return self

    def stop(self) -> None:
        self._loopback.stop()
        super().stop()
