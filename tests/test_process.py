"""The command-line processes' garbage collection and exit (`orchestration.process`): what a normal exit does is
still done, the teardown is not; objects alive before a frozen block are left out of the collections inside it."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path

import pytest

from orchestration.process import long_lived_objects_frozen

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", "TMP_FILE": str(tmp_path / "log.txt")},
        timeout=60,
    )


EXIT_SCRIPT = """
    import atexit, logging, os, sys
    from orchestration.process import exit_without_teardown

    class Loud:
        def __del__(self):
            print("torn down")

    kept = Loud()  # freed only by the interpreter's teardown
    handler = logging.FileHandler(os.environ["TMP_FILE"])  # buffered until logging's atexit flush and close
    logging.getLogger("t").addHandler(handler)
    logging.getLogger("t").warning("logged line")
    atexit.register(lambda: print("atexit ran"))
    print("no newline yet", end="")  # stdout is a pipe: block-buffered
    print("to stderr", file=sys.stderr, end="")
    {exit}
"""


def test_exit_without_teardown_keeps_the_exit_code_output_and_atexit_handlers(tmp_path):
    done = _python(EXIT_SCRIPT.format(exit="exit_without_teardown(3)"), tmp_path)
    assert done.returncode == 3
    assert done.stdout == "no newline yetatexit ran\n"
    assert done.stderr == "to stderr"
    assert (tmp_path / "log.txt").read_text() == "logged line\n"


def test_exit_without_teardown_skips_the_teardown(tmp_path):
    """A normal exit destroys the objects modules hold (here one that prints); this one does not."""
    normal = _python(EXIT_SCRIPT.format(exit="sys.exit(0)"), tmp_path)
    assert normal.returncode == 0 and normal.stdout.endswith("torn down\n")
    fast = _python(EXIT_SCRIPT.format(exit="exit_without_teardown(None)"), tmp_path)
    assert fast.returncode == 0 and "torn down" not in fast.stdout


def test_exit_without_teardown_waits_for_running_threads_as_a_normal_exit_does(tmp_path):
    done = _python(
        """
        import threading, time
        from orchestration.process import exit_without_teardown

        def late():
            time.sleep(0.3)
            print("thread done")

        threading.Thread(target=late).start()
        exit_without_teardown(2)
        """,
        tmp_path,
    )
    assert done.returncode == 2 and done.stdout == "thread done\n"


def test_long_lived_objects_frozen_leaves_them_out_of_collections_inside_the_block_only():
    class Node:
        pass

    gc.collect()
    garbage = Node()
    garbage.cycle = garbage  # only the cyclic collector frees it
    dead = weakref.ref(garbage)
    del garbage
    kept = Node()
    with long_lived_objects_frozen():
        assert gc.get_freeze_count() > 0
        assert not any(o is kept for o in gc.get_objects())  # frozen: outside every generation the passes walk
        gc.collect()
        assert dead() is not None  # what was there before the block is not walked inside it
        made_inside = Node()
        made_inside.cycle = made_inside
        dead_inside = weakref.ref(made_inside)
        del made_inside
        gc.collect()
        assert dead_inside() is None  # garbage made inside the block is collected as usual
    assert gc.get_freeze_count() == 0
    assert any(o is kept for o in gc.get_objects())
    gc.collect()
    assert dead() is None  # nothing leaked past the block


def test_long_lived_objects_frozen_unfreezes_when_the_block_raises():
    with pytest.raises(RuntimeError), long_lived_objects_frozen():
        raise RuntimeError("step failed")
    assert gc.get_freeze_count() == 0


def test_the_actionhouse_command_prints_what_main_prints(tmp_path, capsys):
    """`python -m orchestration.cli` (the `actionhouse` entry point, `run`) ends without the teardown: same output
    and exit status as `main()` in process, a failing command's status included."""
    from actions.policy import DEFAULT_POLICY_PATH
    from orchestration.cli import main

    bad = tmp_path / "bad.yml"
    bad.write_text("version: 1\nworkflows: 3\n")
    for path, status in ((DEFAULT_POLICY_PATH, 0), (bad, 1)):
        expected = main(["policy", "check", str(path)])
        printed = capsys.readouterr().out
        done = subprocess.run(
            [sys.executable, "-m", "orchestration.cli", "policy", "check", str(path)],
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            timeout=120,
        )
        assert (done.returncode, done.stdout) == (expected, printed) == (status, printed)
