"""The processes ``services up`` starts: pid files, start, stop, kill -9, waiting for health, and the
unprivileged user Elasticsearch runs as under root.

Each process runs detached in a session of its own (so a signal to its
process group reaches a launcher's children too, such as Elasticsearch's
server JVM), writes its output to ``SERVICES_DIR/logs/NAME.log`` and its pid
to ``SERVICES_DIR/run/NAME.pid``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from streams.local.exceptions import ServiceError
from streams.settings import Settings

ES_USER = "newsstream"
#: The line :func:`spawn` writes to a process's log before each start, so that one start's output can be told apart.
START_MARK = "# newsstream services: starting"
#: How often, and after how many seconds, :func:`wait_until` starts a process again that could not bind its
#: port (see there): a client's connection may hold the port for as long as it lasts.
BIND_RETRIES = 20
BIND_RETRY_SECONDS = 3.0


def pidfile(settings: Settings, name: str) -> Path:
    return settings.services_dir / "run" / f"{name}.pid"


def log_path(settings: Settings, name: str) -> Path:
    return settings.services_dir / "logs" / f"{name}.log"


def read_pid(settings: Settings, name: str) -> int | None:
    """The pid of process ``name`` if it runs, else None (an exited child of ours is reaped)."""
    try:
        pid = int(pidfile(settings, name).read_text().strip())
    except (OSError, ValueError):
        return None
    try:  # reap it if it is our exited child, or it lingers as a zombie
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return None
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid


def running(settings: Settings) -> list[str]:
    """Names of the processes with a pid file whose process still runs."""
    run = settings.services_dir / "run"
    names = sorted(p.stem for p in run.glob("*.pid")) if run.is_dir() else []
    return [n for n in names if read_pid(settings, n) is not None]


def spawn(settings: Settings, name: str, cmd: list[str], env: dict, cwd: Path, user: str | None = None) -> int:
    """Start ``cmd`` detached as process ``name`` (as ``user`` when given); return its pid."""
    (settings.services_dir / "run").mkdir(parents=True, exist_ok=True)
    (settings.services_dir / "logs").mkdir(parents=True, exist_ok=True)
    kwargs: dict = {}
    if user:
        pw = pwd.getpwnam(user)
        kwargs = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    with open(log_path(settings, name), "ab") as out:
        out.write(f"{START_MARK} {name}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
            **kwargs,
        )
    pidfile(settings, name).write_text(str(proc.pid))
    return proc.pid


def _wait_gone(settings: Settings, name: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while read_pid(settings, name) is not None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def stop(settings: Settings, name: str, timeout: float = 60.0) -> bool:
    """Stop process ``name`` (SIGTERM to its group, SIGKILL after ``timeout`` s). Returns True if it ran."""
    return bool(stop_all(settings, [name], timeout))


def stop_all(settings: Settings, names: list[str], timeout: float = 60.0) -> list[str]:
    """Stop processes ``names`` together: SIGTERM to every group at once, SIGKILL to those still running
    after ``timeout`` s. Returns the names that ran.

    Together, because the last KRaft node stopped alone has no quorum left and waits out its
    controlled shutdown (60 s measured) before it exits."""
    pids = {n: read_pid(settings, n) for n in names}
    ran = [n for n, pid in pids.items() if pid is not None]
    for name in ran:
        try:
            os.killpg(pids[name], signal.SIGTERM)  # type: ignore[arg-type]
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    for name in ran:
        if not _wait_gone(settings, name, max(0.0, deadline - time.monotonic())):
            try:
                os.killpg(pids[name], signal.SIGKILL)  # type: ignore[arg-type]
            except ProcessLookupError:
                pass
            _wait_gone(settings, name, 30)
    for name in names:
        pidfile(settings, name).unlink(missing_ok=True)
    return ran


def kill(settings: Settings, name: str) -> int | None:
    """SIGKILL process ``name`` and its group at once (no shutdown at all); return the pid, or None."""
    pid = read_pid(settings, name)
    if pid is None:
        return None
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _wait_gone(settings, name, 30)
    pidfile(settings, name).unlink(missing_ok=True)
    return pid


def port_open(host: str, port: int) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def last_start(log: Path) -> str:
    """The output of the latest start in ``log`` (after the last :data:`START_MARK` line)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return text[text.rfind(START_MARK) :] if START_MARK in text else text


class Relauncher:
    """Starts again, while :func:`wait_until` waits, the processes of one ``up`` that could not bind a port.

    A process whose latest start says "Address already in use" is started
    again with its start function, at most :data:`BIND_RETRIES` times and not
    more often than every :data:`BIND_RETRY_SECONDS`: ports above 32767 are in
    Linux's ephemeral range, where a client's connection, or its TIME_WAIT for
    60 s after it, holds a port (seen here: Elasticsearch could not bind 59200,
    a broker 59152, with some 350 TIME_WAIT sockets on the machine). Every
    process of the set is tended while any one is waited for, since a cluster
    node waits for the others.

    Raises (when called):
        ServiceError: a process of the set exited for another reason (with its
            latest start's output), or still cannot bind after the retries.
    """

    def __init__(self, settings: Settings, starts: dict[str, Callable[[], object]]) -> None:
        self.settings = settings
        self.starts = starts
        self.retries = dict.fromkeys(starts, BIND_RETRIES)
        self.last: dict[str, float] = {}

    def __call__(self) -> None:
        for name, start in self.starts.items():
            if read_pid(self.settings, name) is not None:
                continue
            log = log_path(self.settings, name)
            tail = last_start(log)
            if "Address already in use" not in tail or not self.retries[name]:
                raise ServiceError(f"{name} exited while starting; log {log}:\n{tail[-3000:]}")
            if time.monotonic() - self.last.get(name, 0.0) >= BIND_RETRY_SECONDS:
                self.retries[name] -= 1
                self.last[name] = time.monotonic()
                start()


def wait_until(
    check: Callable[[], bool],
    what: str,
    alive: Callable[[], bool],
    log: Path,
    timeout: float,
    tend: Relauncher | None = None,
) -> None:
    """Poll ``check`` each second until it is true, calling ``tend`` first each time.

    Raises:
        ServiceError: ``alive()`` turned false (with the log's tail; a process
            ``tend`` looks after is its to judge), ``tend`` raised, or
            ``timeout`` seconds passed.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if tend is not None:
            tend()
        elif not alive():
            tail = last_start(log)
            raise ServiceError(f"{what} exited while starting; log {log}:\n{tail[-3000:]}")
        time.sleep(1)
    raise ServiceError(f"{what} not healthy after {timeout:.0f} s; see {log}")


def ensure_es_user() -> str:
    """The user Elasticsearch runs as under root (it refuses root): :data:`ES_USER`, created if missing."""
    try:
        pwd.getpwnam(ES_USER)
    except KeyError:
        useradd = shutil.which("useradd")
        if not useradd:
            raise ServiceError(
                f"Elasticsearch refuses to run as root and there is no user {ES_USER!r}; "
                "run newsstream as an ordinary user, or create that user."
            ) from None
        subprocess.run([useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", ES_USER], check=True)
    return ES_USER


def chown_tree(path: Path, user: str) -> None:
    """Give ``path`` and everything under it to ``user``."""
    pw = pwd.getpwnam(user)
    for root, _dirs, files in os.walk(path):
        os.chown(root, pw.pw_uid, pw.pw_gid)
        for f in files:
            os.chown(os.path.join(root, f), pw.pw_uid, pw.pw_gid, follow_symlinks=False)
