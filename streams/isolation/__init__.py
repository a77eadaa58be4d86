"""CPU-bound stage work in a child process, with a time budget per message.

Parsing and enrichment run native code on input anyone can publish (libxml2,
rs-trafilatura, spaCy) and plugin code: a message can take minutes, hang or
crash the process. Run on the event loop, one slow message froze every agent of
a worker and made it deaf to SIGTERM (issue 20); run in a thread, it cannot be
stopped (Python cannot kill a thread, and the interpreter waits for it at
exit). So a stage's work runs in a child process (:class:`ChildProcess`) that
is killed and replaced when a message is over its budget or when it dies:

* The agent sends a batch of items; the child answers each item in order as
  soon as it is done. Each answer must come within the **budget** (seconds)
  of the one before it (or of the request): otherwise the child is killed
  (``SIGKILL``) and the item in progress fails with ``timeout``.
* A child that dies (a segfault in native code, the kernel's OOM killer)
  fails the item in progress with ``crash``. The item is tried once more, in
  a new child: a message that kills two children is dead-lettered, the
  worker never crash-loops on it.
* A child that works on its items together (the enrich stage's
  ``nlp.pipe``) cannot say which item was slow: after a failure, the items
  left are tried one at a time, so the budget and the crash retry apply to
  one item each (:meth:`StagePool.map` with ``together=True``).
* When the worker stops (SIGTERM), the request is cancelled and the child
  killed at once: its items are not acknowledged and come back after the
  restart. A failure while stopping is never a message's fault.

The child is ``python -m streams.isolation.child TARGET`` (:mod:`streams.isolation.child`): ``TARGET``
(``module:function``) is called once to set up (load a model, warm caches)
and returns the work function, ``work(items) -> iterator of answers``. The
answers must be picklable; the work function catches its items' own errors
and answers them (a rejection is an answer). Frames on the child's stdin and
stdout are an 8-byte length and a pickle; the child's own stdout is sent to
its stderr, which is the worker's. Only our own child is unpickled.

Costs (``bench/isolation.py``): the items and answers are pickled bytes
(a page, a record), a copy each way; a child costs its interpreter and what
its stage imports; a killed child is replaced at the next request (the
enrich child reloads its spaCy model then, a few seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import signal
import struct
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

#: A frame's header: the length of the pickle that follows (:mod:`streams.isolation.child` reads and writes them too).
HEADER = struct.Struct(">Q")

#: Attempts of one item when its child dies: the first, and one retry.
CRASH_ATTEMPTS = 2
#: Seconds between attempts to start a child that failed to start.
START_RETRY_SECONDS = 5.0


@dataclass
class Failure:
    """An item the child could not answer: ``reason`` is ``timeout`` or ``crash``; ``detail`` says more."""

    reason: str
    detail: str


class ChildError(RuntimeError):
    """A child could not be started (it died or hung while setting up): not any message's fault."""


class _Died(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class _OverBudget(Exception):
    pass


def _describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "did not exit"
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


class ChildProcess:
    """One child process running ``python -m streams.isolation.child TARGET``.

    Args:
        target: ``module:function`` of the set-up function (see the module's notes).
        name: for logs and failure details (``parse``, ``enrich``).
        start_timeout: seconds the set-up may take.
    """

    def __init__(self, target: str, name: str, start_timeout: float = 300.0) -> None:
        self.target = target
        self.name = name
        self.start_timeout = start_timeout
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        """Start the child and wait until it is set up.

        Raises:
            ChildError: it died, or did not finish setting up within ``start_timeout``.
        """
        started = time.monotonic()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "streams.isolation.child",
            self.target,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 16,
        )
        try:
            ready = await asyncio.wait_for(self._read(), timeout=self.start_timeout)
        except (TimeoutError, _Died) as exc:
            await self.kill()
            why = f"took more than {self.start_timeout:.0f} s to set up" if isinstance(exc, TimeoutError) else str(exc)
            raise ChildError(f"the {self.name} child process {why}") from None
        except BaseException:
            await self.kill()
            raise
        if ready != ("ready",):
            await self.kill()
            if isinstance(ready, tuple) and ready[:1] == ("failed",):
                raise ChildError(f"the {self.name} child process could not set up: {ready[1]}")
            raise ChildError(f"the {self.name} child process answered {ready!r} instead of ready")
        log.info("%s: child process %s ready in %.1f s", self.name, self.pid, time.monotonic() - started)

    async def _read(self) -> Any:
        assert self.proc is not None and self.proc.stdout is not None
        try:
            header = await self.proc.stdout.readexactly(HEADER.size)
            (size,) = HEADER.unpack(header)
            payload = await self.proc.stdout.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError):
            returncode = await self.proc.wait()
            raise _Died(f"the {self.name} child process {_describe_exit(returncode)}") from None
        return pickle.loads(payload)

    async def answers(self, items: list[Any], budget: float) -> AsyncIterator[Any]:
        """Send ``items`` and yield their answers in order (an async generator).

        Raises:
            _OverBudget: an answer did not come within ``budget`` seconds of the one before.
            _Died: the child died.
        A cancelled or abandoned request kills the child (it is mid-way: not reusable).
        """
        assert self.proc is not None and self.proc.stdin is not None
        payload = pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL)
        done = False
        try:
            try:
                self.proc.stdin.write(HEADER.pack(len(payload)) + payload)
                await self.proc.stdin.drain()
            except (ConnectionError, BrokenPipeError):
                returncode = await self.proc.wait()
                raise _Died(f"the {self.name} child process {_describe_exit(returncode)}") from None
            for _ in range(len(items)):
                try:
                    answer = await asyncio.wait_for(self._read(), timeout=budget)
                except TimeoutError:
                    raise _OverBudget() from None
                if isinstance(answer, tuple) and answer[:1] == ("broken",):
                    raise _Died(f"the {self.name} child process failed: {answer[1]}")
                yield answer
            done = True
        finally:
            if not done:
                await self.kill()

    async def kill(self) -> None:
        """Kill the child (SIGKILL) and reap it. Never raises."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        # reaped in a task of its own: a cancelled caller must not leave a zombie
        waiter = asyncio.ensure_future(proc.wait())
        with contextlib.suppress(BaseException):
            await asyncio.shield(waiter)

    async def close(self) -> None:
        """Stop the child: close its stdin (it exits when idle), kill it if it has not within 2 s."""
        proc = self.proc
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(Exception):
                proc.stdin.close()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(asyncio.shield(proc.wait()), timeout=2.0)
        await self.kill()


class StagePool:
    """A stage's work in a child process with a budget per item (see the module's notes).

    Args:
        target: ``module:function`` the child sets up with.
        name: the stage (``parse``, ``enrich``), in logs and failure details.
        budget: seconds an item may take (the setting named in ``budget_setting``).
        budget_setting: the environment variable of the budget, for failure details.
        should_stop: True once the worker is stopping: failures are then not
            the items' and :meth:`map` raises :class:`asyncio.CancelledError`.
        start_timeout: seconds a child's set-up may take.
    """

    def __init__(
        self,
        target: str,
        name: str,
        budget: float,
        budget_setting: str,
        should_stop: Callable[[], bool] = lambda: False,
        start_timeout: float = 300.0,
    ) -> None:
        self.target = target
        self.name = name
        self.budget = budget
        self.budget_setting = budget_setting
        self.should_stop = should_stop
        self.start_timeout = start_timeout
        self._child: ChildProcess | None = None
        self._lock = asyncio.Lock()
        #: Children started, timeouts and crashes so far (for logs and tests).
        self.counts = {"started": 0, "timeout": 0, "crash": 0}

    @property
    def pid(self) -> int | None:
        """The pid of the current child, if one runs."""
        return self._child.pid if self._child is not None and self._child.alive() else None

    async def start(self, retry: bool = True) -> None:
        """Start the child now (an agent starts it before its first batch), trying
        again every :data:`START_RETRY_SECONDS` while it fails to start (``retry``).

        Raises:
            ChildError: it cannot be started (without ``retry``).
            asyncio.CancelledError: the worker is stopping.
        """
        async with self._lock:
            await self._ensure_child(retry=retry)

    async def _ensure_child(self, retry: bool = True) -> ChildProcess:
        while self._child is None or not self._child.alive():
            child = ChildProcess(self.target, self.name, self.start_timeout)
            try:
                await child.start()
            except ChildError as exc:
                if not retry:
                    raise
                if self.should_stop():
                    raise asyncio.CancelledError(f"stopping: {exc}") from None
                log.error("%s: %s; trying again in %.0f s", self.name, exc, START_RETRY_SECONDS)
                await asyncio.sleep(START_RETRY_SECONDS)
                continue
            self._child = child
            self.counts["started"] += 1
        return self._child

    async def map(self, items: list[Any], together: bool = False) -> list[Any]:
        """Return one answer per item, in order: the child's answer, or a
        :class:`Failure` (``timeout`` or ``crash``) for an item it could not answer.

        Items are sent one a request; with ``together``, all in one request
        (the child works on them as one batch): a failure then cannot be
        pinned on the item in progress, and the items left are tried one a
        request.

        Raises:
            asyncio.CancelledError: the worker is stopping (the batch is not
                to be acknowledged).
        """
        async with self._lock:
            if not together or len(items) < 2:
                return await self._each(items)
            out: list[Any] = []
            child = await self._ensure_child()
            try:
                async for answer in child.answers(items, self.budget):
                    out.append(answer)
                return out
            except (_OverBudget, _Died) as exc:
                self._check_stopping()
                what = f"went over the budget of {self.budget:g} s" if isinstance(exc, _OverBudget) else str(exc)
                log.warning(
                    "%s: a batch of %d %s; trying its %d items left one at a time",
                    self.name,
                    len(items),
                    what,
                    len(items) - len(out),
                )
            return out + await self._each(items[len(out) :])

    def _check_stopping(self) -> None:
        if self.should_stop():
            raise asyncio.CancelledError(f"{self.name}: stopping")

    async def _each(self, items: list[Any]) -> list[Any]:
        """Answers of items sent one a request: a failure is that item's. (One a
        request, not all in one: a raw message may be 8 MB, and a batch 100 of them.)"""
        out: list[Any] = []
        crashes = 0  # of the item in progress
        while len(out) < len(items):
            child = await self._ensure_child()
            try:
                async for answer in child.answers(items[len(out) : len(out) + 1], self.budget):
                    out.append(answer)
                    crashes = 0
            except _OverBudget:
                self._check_stopping()
                self.counts["timeout"] += 1
                detail = (
                    f"the {self.name} stage took more than {self.budget:g} s on this message "
                    f"({self.budget_setting}); its child process was killed"
                )
                log.warning("%s: item %d of %d: %s", self.name, len(out) + 1, len(items), detail)
                out.append(Failure("timeout", detail))
                crashes = 0
            except _Died as exc:
                self._check_stopping()
                self.counts["crash"] += 1
                crashes += 1
                if crashes < CRASH_ATTEMPTS:
                    log.warning("%s: %s on item %d of %d; trying it again", self.name, exc, len(out) + 1, len(items))
                    continue
                detail = f"{exc.detail} on this message ({CRASH_ATTEMPTS} times)"
                log.warning("%s: item %d of %d: %s", self.name, len(out) + 1, len(items), detail)
                out.append(Failure("crash", detail))
                crashes = 0
        return out

    async def close(self) -> None:
        """Stop the child (a worker stopping). Never raises."""
        child, self._child = self._child, None
        if child is not None:
            await child.close()
