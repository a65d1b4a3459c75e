"""Crash safety: `scimharness serve` is SIGKILLed during a burst of writes and during bulk requests; after a
restart the database is intact, every acknowledged write is there, and no PATCH or bulk operation is half-applied."""
from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import new_user, patch_body
from tests.reliability_support import TALLY, scale

ROOT = Path(__file__).resolve().parents[1]
SCIM = "application/scim+json"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`scimharness serve` on one database, started and killed at will."""

    def __init__(self, db_path: str):
        self.db_path = db_path
        self.env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.token = json.loads(self._cli("token", "generate", "--db", db_path, "--json"))["token"]
        self.process = None

    def _cli(self, *args: str) -> str:
        return subprocess.run([sys.executable, "-m", "harness.cli", *args], env=self.env, check=True,
                              capture_output=True, text=True, timeout=60).stdout

    def start(self) -> "ServerProcess":
        port = _free_port()
        self.base = f"http://127.0.0.1:{port}/scim/v2"
        self.process = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--db", self.db_path,
                                         "--port", str(port)], env=self.env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.session().get(self.base + "/ServiceProviderConfig", timeout=1).ok:
                    return self
            except requests.ConnectionError:
                time.sleep(0.05)
        self.kill()
        raise AssertionError("scimharness serve did not start")

    def session(self) -> requests.Session:
        session = requests.Session()
        session.headers.update({"Authorization": f"Bearer {self.token}", "Content-Type": SCIM})
        return session

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def server(tmp_path):
    server = ServerProcess(str(tmp_path / "crash.db"))
    yield server
    server.kill()


def _integrity(db_path: str) -> str:
    connection = sqlite3.connect(db_path)
    try:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        connection.close()


def _in_background(work, stop: threading.Event, workers: int) -> list[threading.Thread]:
    threads = [threading.Thread(target=work, args=(i, stop), daemon=True) for i in range(workers)]
    for thread in threads:
        thread.start()
    return threads


def _all_users(session: requests.Session, base: str) -> dict[str, dict]:
    listing = session.get(base + "/Users", params={"count": 1000}, timeout=30).json()
    assert listing["totalResults"] <= 1000
    return {u["id"]: u for u in listing["Resources"]}


@pytest.mark.parametrize("round_", range(scale(1, 5)))
def test_sigkill_during_a_burst_of_writes_keeps_every_acknowledged_write(server, round_):
    """Writers create users and PATCH two attributes to one marker; the server dies mid-burst."""
    server.start()
    acknowledged: dict[str, str] = {}  # user id -> the marker of its last acknowledged PATCH
    lock = threading.Lock()

    def writer(worker: int, stop: threading.Event):
        session = server.session()
        for n in range(10_000):
            if stop.is_set():
                return
            try:
                created = session.post(server.base + "/Users", json=new_user(f"w{worker}-{n}@x.test"), timeout=30)
                assert created.status_code == 201, created.text
                user_id = created.json()["id"]
                with lock:
                    acknowledged[user_id] = "Zoë"
                marker = f"m{worker}-{n}"
                patched = session.patch(f"{server.base}/Users/{user_id}", timeout=30, json=patch_body(
                    {"op": "replace", "path": "name.givenName", "value": marker},
                    {"op": "replace", "path": "name.familyName", "value": marker}))
                assert patched.status_code == 200, patched.text
                with lock:
                    acknowledged[user_id] = marker
            except requests.RequestException:  # the server died mid-answer
                return

    stop = threading.Event()
    threads = _in_background(writer, stop, workers=4)
    deadline = time.monotonic() + 30
    while len(acknowledged) < scale(30, 150) and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    with lock:
        acknowledged = dict(acknowledged)
    assert acknowledged, "no write was acknowledged before the kill"

    assert _integrity(server.db_path) == "ok"
    server.start()
    users = _all_users(server.session(), server.base)
    TALLY["crash: SIGKILLs during write bursts"] += 1
    TALLY["crash: acknowledged writes checked after restart"] += len(acknowledged)
    for user_id, marker in acknowledged.items():
        assert user_id in users, "an acknowledged create was lost"
        name = users[user_id]["name"]
        if marker != "Zoë":
            assert name["givenName"] == name["familyName"] == marker, "an acknowledged PATCH was lost"
    for user in users.values():  # acknowledged or not: never half a PATCH
        assert user["name"]["givenName"] == user["name"]["familyName"] or user["name"]["givenName"] == "Zoë"


def _bulk_body(batch: int, user_ids: list[str]) -> dict:
    """A PATCH of both name parts of every user to one marker, then groups created with all of them."""
    marker = f"bulk{batch}"
    operations = [{"method": "PATCH", "path": f"/Users/{uid}", "data": patch_body(
        {"op": "replace", "path": "name.givenName", "value": marker},
        {"op": "replace", "path": "name.familyName", "value": marker})} for uid in user_ids]
    operations += [{"method": "POST", "path": "/Groups", "bulkId": f"g{i}", "data": {
        "schemas": [GROUP], "displayName": f"batch{batch}-{i}", "members": [{"value": u} for u in user_ids]}}
        for i in range(100 - len(user_ids))]
    return {"schemas": [BULK], "Operations": operations}


@pytest.mark.parametrize("round_", range(scale(1, 5)))
def test_sigkill_during_bulk_requests_leaves_no_half_applied_operation(server, round_):
    server.start()
    session = server.session()
    user_ids = [session.post(server.base + "/Users", json=new_user(f"b{i}@x.test"), timeout=30).json()["id"]
                for i in range(20)]
    completed: list[dict] = []
    interrupted = threading.Event()

    def bulk_sender(_worker: int, stop: threading.Event):
        bulk_session = server.session()
        for batch in range(1000):
            if stop.is_set():
                return
            try:
                answer = bulk_session.post(server.base + "/Bulk", json=_bulk_body(batch, user_ids), timeout=60)
            except requests.RequestException:
                interrupted.set()
                return
            assert answer.status_code == 200, answer.text
            completed.append(answer.json())

    stop = threading.Event()
    threads = _in_background(bulk_sender, stop, workers=1)
    deadline = time.monotonic() + 60
    while len(completed) < scale(2, 4) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)  # well inside the next bulk request
    server.kill()
    stop.set()
    threads[0].join(timeout=30)
    assert completed and interrupted.is_set(), "the kill did not land during a bulk request"

    assert _integrity(server.db_path) == "ok"
    server.start()
    session = server.session()
    users = _all_users(session, server.base)
    TALLY["crash: SIGKILLs during bulk requests"] += 1
    TALLY["crash: acknowledged bulk operations checked after restart"] += sum(len(a["Operations"]) for a in completed)
    markers = {(u["name"]["givenName"], u["name"]["familyName"]) for u in users.values()}
    assert all(given == family for given, family in markers), "a PATCH inside a bulk request was half-applied"
    groups = session.get(server.base + "/Groups", params={"count": 1000}, timeout=30).json()["Resources"]
    for group in groups:
        assert sorted(m["value"] for m in group.get("members", [])) == sorted(user_ids), group["displayName"]
    names = {g["displayName"] for g in groups}
    for answer in completed:  # every operation the server acknowledged is there
        for op in answer["Operations"]:
            assert op["status"] in ("200", "201"), op
            if op["method"] == "POST":
                path = op["location"].split("/scim/v2", 1)[1]  # the restarted server has a new port
                assert session.get(server.base + path, timeout=30).status_code == 200
    assert {f"batch{b}-0" for b in range(len(completed))} <= names
