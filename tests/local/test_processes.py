"""The local services' process handling with small real processes (no JVM): a start whose port is taken."""

from __future__ import annotations

import socket
import sys
import threading
import time

import pytest

from streams.local import processes
from streams.local.exceptions import ServiceError
from streams.settings import Settings

# binds the port and serves until killed; exits with Python's "Address already in use" when it is taken
SERVER = (
    "import socket,sys,time; s=socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); time.sleep(120)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hold(port: int) -> list[socket.socket]:
    """A client connection whose local port is ``port`` (what a client's ephemeral port looks like), with its
    listener and accepted end."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.socket()
    client.bind(("127.0.0.1", port))
    client.connect(listener.getsockname())
    accepted, _ = listener.accept()
    return [client, accepted, listener]


def _release(sockets: list[socket.socket]) -> None:
    """Close the connection from the server's end first, so that TIME_WAIT keeps the server's port, not ``port``."""
    client, accepted, listener = sockets
    accepted.close()
    time.sleep(0.2)
    client.close()
    listener.close()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(services_dir=tmp_path)


def test_a_process_whose_port_is_taken_is_started_again_once_it_is_free(settings):
    port = _free_port()
    holder = _hold(port)
    starts = []

    def start() -> None:
        starts.append(
            processes.spawn(settings, "srv", [sys.executable, "-c", SERVER, str(port)], {}, settings.services_dir)
        )

    start()
    threading.Timer(3.0, _release, [holder]).start()
    try:
        processes.wait_until(
            lambda: processes.port_open("127.0.0.1", port),
            "srv",
            lambda: processes.read_pid(settings, "srv") is not None,
            processes.log_path(settings, "srv"),
            30,
            tend=processes.Relauncher(settings, {"srv": start}),
        )
        assert 2 <= len(starts) <= 1 + processes.BIND_RETRIES
        assert processes.read_pid(settings, "srv") == starts[-1]
        assert "Address already in use" in processes.log_path(settings, "srv").read_text()
    finally:
        processes.stop_all(settings, ["srv"], timeout=5)


def test_another_failure_is_reported_with_the_latest_start_s_output(settings):
    def start() -> None:
        processes.spawn(
            settings, "bad", [sys.executable, "-c", "raise SystemExit('no config here')"], {}, settings.services_dir
        )

    start()
    time.sleep(0.2)
    start()  # a second start: only its output is quoted
    with pytest.raises(ServiceError, match=r"bad exited while starting") as info:
        processes.wait_until(
            lambda: False,
            "bad",
            lambda: processes.read_pid(settings, "bad") is not None,
            processes.log_path(settings, "bad"),
            30,
            tend=processes.Relauncher(settings, {"bad": start}),
        )
    assert str(info.value).count("no config here") == 1


def test_a_node_that_could_not_bind_is_started_again_while_another_is_waited_for(settings):
    """As in a cluster: node a is healthy only once node b is up, and b's port is taken at first."""
    port_a, port_b = _free_port(), _free_port()
    holder = _hold(port_b)

    def start(name: str, port: int):
        return lambda: processes.spawn(
            settings, name, [sys.executable, "-c", SERVER, str(port)], {}, settings.services_dir
        )

    starts = {"a": start("a", port_a), "b": start("b", port_b)}
    for launch in starts.values():
        launch()
    threading.Timer(3.0, _release, [holder]).start()
    try:
        processes.wait_until(
            lambda: processes.port_open("127.0.0.1", port_a) and processes.port_open("127.0.0.1", port_b),
            "a",
            lambda: processes.read_pid(settings, "a") is not None,
            processes.log_path(settings, "a"),
            30,
            tend=processes.Relauncher(settings, starts),
        )
        assert processes.log_path(settings, "b").read_text().count(processes.START_MARK) >= 2
        assert processes.log_path(settings, "a").read_text().count(processes.START_MARK) == 1
    finally:
        processes.stop_all(settings, ["a", "b"], timeout=5)
