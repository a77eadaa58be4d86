"""The child processes of the parse and enrich stages (streams.isolation): real processes,
real SIGKILLs and real segfaults (issue 20: a slow or crashing message never stops the stream)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from streams.isolation import ChildError, Failure, StagePool
from tests.conftest import ROOT, wait_for

ECHO = "tests.isolation.targets:echo"
TOGETHER = "tests.isolation.targets:together"


def _pool(target: str = ECHO, budget: float = 30.0, **kw) -> StagePool:
    return StagePool(target, "test", budget, "NEWSSTREAM_TEST_TIMEOUT_SECONDS", **kw)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead too
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ", 1)[1][0] != "Z"


def test_items_are_answered_in_order_by_one_child_that_stays():
    async def run():
        pool = _pool()
        try:
            first = await pool.map(["a", "b", "c"])
            second = await pool.map(["d"])
            return first, second, pool.counts
        finally:
            await pool.close()

    first, second, counts = asyncio.run(run())
    assert [a for a, _ in first + second] == ["A", "B", "C", "D"]
    assert len({pid for _, pid in first + second}) == 1 and counts["started"] == 1


def test_an_item_over_the_budget_is_a_timeout_and_the_next_items_go_on_in_a_new_child():
    async def run():
        pool = _pool(budget=1.0)
        try:
            started = time.monotonic()
            answers = await pool.map(["a", "sleep:30", "b"])
            return answers, time.monotonic() - started, pool.counts
        finally:
            await pool.close()

    answers, took, counts = asyncio.run(run())
    assert answers[0][0] == "A" and answers[2][0] == "B"
    assert isinstance(answers[1], Failure) and answers[1].reason == "timeout"
    assert "more than 1 s on this message (NEWSSTREAM_TEST_TIMEOUT_SECONDS)" in answers[1].detail
    assert answers[0][1] != answers[2][1]  # the slow child was killed and replaced
    assert not _alive(answers[0][1])
    assert took < 20 and counts == {"started": 2, "timeout": 1, "crash": 0}


def test_a_message_that_kills_its_child_twice_is_a_crash_and_the_stream_goes_on():
    async def run():
        pool = _pool()
        try:
            return await pool.map(["a", "segfault", "b"]), pool.counts
        finally:
            await pool.close()

    answers, counts = asyncio.run(run())
    assert answers[0][0] == "A" and answers[2][0] == "B"
    assert isinstance(answers[1], Failure) and answers[1].reason == "crash"
    assert answers[1].detail == "the test child process was killed by SIGSEGV on this message (2 times)"
    assert counts == {"started": 3, "timeout": 0, "crash": 2}  # one retry, never more


def test_a_crash_that_does_not_come_again_is_not_the_message_fault(tmp_path):
    async def run():
        pool = _pool()
        try:
            return await pool.map([f"segfault-once:{tmp_path / 'mark'}", "b"]), pool.counts
        finally:
            await pool.close()

    answers, counts = asyncio.run(run())
    assert answers[0][0].startswith("SEGFAULT-ONCE:") and answers[1][0] == "B"
    assert counts["crash"] == 1


@pytest.mark.parametrize("bad, reason", [("sleep:30", "timeout"), ("segfault", "crash")])
def test_a_batch_worked_on_together_is_tried_one_item_at_a_time_after_a_failure(bad, reason):
    async def run():
        pool = _pool(TOGETHER, budget=2.0)
        try:
            return await pool.map(["a", bad, "b"], together=True)
        finally:
            await pool.close()

    answers = asyncio.run(run())
    assert answers[0][0] == "A" and answers[2][0] == "B"
    assert isinstance(answers[1], Failure) and answers[1].reason == reason


def test_a_cancelled_request_kills_its_child_at_once():
    async def run():
        pool = _pool()
        await pool.start()
        pid = pool.pid
        task = asyncio.ensure_future(pool.map(["sleep:60"]))
        await asyncio.sleep(1.0)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return pid, time.monotonic() - started

    pid, took = asyncio.run(run())
    assert pid is not None and not _alive(pid) and took < 5


def test_a_child_that_dies_while_the_worker_stops_is_no_message_fault():
    stopping = False

    async def run():
        nonlocal stopping
        pool = _pool(should_stop=lambda: stopping)
        await pool.start()
        pid = pool.pid
        assert pid is not None
        task = asyncio.ensure_future(pool.map(["sleep:60"]))
        await asyncio.sleep(1.0)
        stopping = True
        os.kill(pid, signal.SIGTERM)  # as a SIGTERM to the whole process group does
        with pytest.raises(asyncio.CancelledError):
            await task
        await pool.close()

    asyncio.run(run())


def test_a_child_that_cannot_set_up_is_a_start_error_naming_why():
    async def run():
        pool = StagePool("tests.isolation.targets:failing_setup", "enrich", 5.0, "X")
        with pytest.raises(ChildError) as info:
            await pool.start(retry=False)
        return str(info.value)

    assert asyncio.run(run()) == (
        "the enrich child process could not set up: RuntimeError: model 'xx' is not installed"
    )


def test_a_child_that_hangs_while_setting_up_is_a_start_error():
    async def run():
        pool = StagePool("tests.isolation.targets:slow_setup", "enrich", 5.0, "X", start_timeout=2.0)
        with pytest.raises(ChildError, match="took more than 2 s to set up"):
            await pool.start(retry=False)

    asyncio.run(run())


def test_the_child_dies_with_its_worker_even_on_sigkill():
    script = textwrap.dedent(
        """
        import asyncio, sys
        from streams.isolation import StagePool

        async def main():
            pool = StagePool("tests.isolation.targets:echo", "test", 30.0, "X")
            await pool.start()
            print(pool.pid, flush=True)
            await asyncio.sleep(600)

        asyncio.run(main())
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert _alive(child)
        parent.kill()
        parent.wait(timeout=10)
        wait_for(lambda: not _alive(child), 10, what="the child to die with its parent")
    finally:
        if parent.poll() is None:
            parent.kill()
