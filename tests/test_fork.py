"""Work dealt to forked processes: order kept, failures reported, no process left behind."""

import os
import time

import pytest

from bmsc_dge._fork import Claims, Forked, fork_map_start
from bmsc_dge.errors import FigureError, ForkedWorkError

from .procs import running


def fork_map(*args):
    """Start, then collect (what the library's callers do in two steps)."""
    return fork_map_start(*args).result()


def _pid_and_square(x: int) -> tuple[int, int]:
    return os.getpid(), x * x


def test_fork_map_keeps_the_order_of_the_items_and_uses_the_processes():
    out = fork_map(_pid_and_square, list(range(11)), 3, "squares")
    assert [sq for _, sq in out] == [x * x for x in range(11)]
    pids = {pid for pid, _ in out}
    assert len(pids) == 3 and os.getpid() not in pids
    # item i went to process i % 3
    assert out[0][0] == out[3][0] == out[9][0] != out[1][0]


def test_one_process_or_one_item_runs_here():
    assert fork_map(_pid_and_square, [1, 2], 1, "squares") == [(os.getpid(), 1), (os.getpid(), 4)]
    assert fork_map(_pid_and_square, [5], 4, "squares") == [(os.getpid(), 25)]
    assert fork_map(_pid_and_square, [], 4, "squares") == []


def test_a_failing_child_raises_the_given_error_with_its_traceback():
    def boom(x: int) -> int:
        if x == 4:
            raise ValueError("four is bad")
        return x

    with pytest.raises(FigureError, match=r"counting failed:(.|\n)*ValueError: four is bad"):
        fork_map(boom, list(range(6)), 2, "counting", FigureError)


def test_a_child_killed_mid_work_is_an_error_not_a_hang():
    def die(x: int) -> int:
        os._exit(3)

    with pytest.raises(ForkedWorkError, match="ended with status"):
        fork_map(die, [1, 2], 2, "dying")


def test_cancel_kills_and_reaps_the_children():
    work = Forked([lambda: time.sleep(60), lambda: time.sleep(60)], "sleeping")
    pids = [pid for pid, _ in work._children]
    assert len(pids) == 2
    work.cancel()
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaped: no zombie left
    assert work.result() == []


def test_children_die_with_a_killed_parent(tmp_path):
    """A run killed with SIGKILL while its children work leaves none of them behind."""
    import signal
    import subprocess
    import sys

    pids = tmp_path / "pids"
    script = f"""
import os, time
from bmsc_dge._fork import fork_map_start
def work(x):
    with open({str(pids)!r}, "a") as fh:
        fh.write(f"{{os.getpid()}}\\n")
    time.sleep(120)
fork_map_start(work, [1, 2], 2, "sleeping").result()
"""
    parent = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 60
    while (not pids.exists() or len(pids.read_text().split()) < 2) and time.time() < deadline:
        time.sleep(0.1)
    children = [int(p) for p in pids.read_text().split()]
    assert len(children) == 2
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(timeout=30)
    deadline = time.time() + 20
    while any(running(p) for p in children) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(running(p) for p in children)


def _freeze_count(_: int) -> int:
    import gc

    return gc.get_freeze_count()


def test_children_freeze_what_they_inherit_and_the_parent_is_left_alone():
    import gc

    before = gc.get_freeze_count()
    counts = fork_map(_freeze_count, [0, 1], 2, "freeze counts")
    # each child moved the inherited heap to the permanent generation (its collections skip it)
    assert all(c > 1000 for c in counts)
    assert gc.get_freeze_count() == before and gc.isenabled()


def test_claims_give_each_piece_to_exactly_one_process_and_a_slow_one_takes_fewer():
    """Two children and this process walk 40 pieces; each piece is done once, and the child
    whose first piece is slow (0.3 s, whichever it claims) leaves most of the rest to the others."""
    claims = Claims()

    def walk(slow: bool) -> list[int]:
        done = []
        for i in range(40):
            if claims.claim(i):
                time.sleep(0.3 if slow and not done else 0.005)  # the slow one: its first piece
                done.append(i)
        return done

    work = Forked([lambda: walk(True), lambda: walk(False)], "claims")
    time.sleep(0.05)  # the children start first, as figure processes do
    own = walk(False)
    slow, fast = work.result()
    assert sorted(slow + fast + own) == list(range(40))  # every piece once
    assert all(part == sorted(part) for part in (slow, fast, own))
    assert len(slow) < len(fast) and len(slow) < 10
    assert not claims.claim(0) and not claims.claim(39)  # given out already


def test_a_fork_while_another_thread_draws_does_not_hang_the_child():
    """``bmsc-dge batch`` runs studies in threads; a child forked while another thread holds
    matplotlib's drawing lock (one for all figures) must not inherit it held and hang at its
    first figure (this hung a 20-study batch before the fork took the lock)."""
    import io
    import select
    import threading

    from matplotlib.figure import Figure

    held, release = threading.Event(), threading.Event()

    def drawing() -> None:  # another study's thread, in the middle of a figure
        with Figure._render_lock:
            held.set()
            release.wait(10)

    other = threading.Thread(target=drawing)
    other.start()
    held.wait(5)
    threading.Timer(0.3, release.set).start()

    def draw() -> int:
        fig = Figure()
        fig.add_subplot().plot([1, 2, 3])
        fig.savefig(io.BytesIO(), format="png")
        return 1

    work = Forked([draw, draw], "drawing")
    other.join()
    fds = [fd for _, fd in work._children]
    finished: set[int] = set()
    deadline = time.monotonic() + 30
    while len(finished) < len(fds) and time.monotonic() < deadline:
        ready, _, _ = select.select([f for f in fds if f not in finished], [], [], 0.5)
        finished.update(ready)
    if len(finished) < len(fds):
        work.cancel()
        pytest.fail("a forked child hung on the drawing lock it inherited")
    assert work.result() == [1, 1]
