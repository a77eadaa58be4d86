"""The local services' processes: spawned detached, remembered by pid file, stopped by process group."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

from streams.local.fetch import ServiceError
from streams.settings import Settings

ES_USER = "newsstream"


def pidfile(settings: Settings, name: str) -> Path:
    return settings.services_dir / "run" / f"{name}.pid"


def read_pid(settings: Settings, name: str) -> int | None:
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


def spawn(settings: Settings, name: str, cmd: list[str], env: dict, cwd: Path, user: str | None = None) -> int:
    (settings.services_dir / "run").mkdir(parents=True, exist_ok=True)
    log = settings.services_dir / "logs" / f"{name}.log"
    kwargs: dict = {}
    if user:
        pw = pwd.getpwnam(user)
        kwargs = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    with open(log, "ab") as out:
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


def ensure_es_user() -> str:
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
    pw = pwd.getpwnam(user)
    for root, _dirs, files in os.walk(path):
        os.chown(root, pw.pw_uid, pw.pw_gid)
        for f in files:
            os.chown(os.path.join(root, f), pw.pw_uid, pw.pw_gid, follow_symlinks=False)


def stop(settings: Settings, name: str, timeout: float = 60.0) -> bool:
    """Stop one service started by :func:`up` (SIGTERM, then SIGKILL). Returns True if it ran."""
    pid = read_pid(settings, name)
    if pid is None:
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and read_pid(settings, name) is not None:
        time.sleep(0.5)
    if read_pid(settings, name) is not None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        time.sleep(1)
    pidfile(settings, name).unlink(missing_ok=True)
    return True
