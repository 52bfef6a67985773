"""What a command-line process of Actionhouse (`actionhouse ...`, and the dbt process a refresh starts) does about
Python's garbage collector, which costs every refresh seconds however little is new.

A refresh process holds ~450,000 objects once its libraries and definitions are loaded (Dagster, dagster-dbt and dbt,
scikit-learn, SQLAlchemy, the dbt manifest), a dbt process ~260,000 once its manifest is loaded. They live until the
process ends, yet each full collection of the cyclic garbage collector walks all of them again (7-9 full collections
an hour: ~1.3 s of the dbt process's CPU, more in the refresh's), and the interpreter's teardown at exit walks and
frees them once more (~1-1.5 s a process) just before the operating system reclaims the memory anyway.

- `long_lived_objects_frozen`: `gc.freeze()` for the length of a block, so that what was loaded before it is left
  out of the collections inside it (it is alive all along), and `gc.unfreeze()` after, so a longer-lived process (a
  test session) is as before: cyclic garbage made before the block (a few thousand objects) waits for the first
  collection after it. No collection at the start: it would cost a full pass (~0.2-0.3 s) to free next to nothing.
- `exit_without_teardown`: the end of `sys.exit(code)` without the teardown: threads are waited for and `atexit`
  handlers run as at a normal exit (logging's flush and close among them), the standard streams are flushed, then
  the process ends. Every file, connection and database the commands use is closed by the code that opened it
  before this point; DuckDB and SQLite are crash-safe besides.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
import threading
from collections.abc import Iterator
from typing import NoReturn


@contextlib.contextmanager
def long_lived_objects_frozen() -> Iterator[None]:
    """Leave every object tracked now out of the garbage collector's passes inside the block (see the module
    docstring); nothing is leaked past the block."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def exit_without_teardown(code: int | None) -> NoReturn:
    """End the process with exit status `code` (None is 0) as `sys.exit` would, but without the interpreter's
    teardown (see the module docstring). With a thread still running that a normal exit would wait for, this is
    `sys.exit(code)` itself."""
    code = 0 if code is None else code
    main = threading.main_thread()
    if any(thread is not main and thread.is_alive() and not thread.daemon for thread in threading.enumerate()):
        sys.exit(code)
    run_exit_handlers()
    os._exit(code)


def run_exit_handlers() -> None:
    """What a normal exit does before the interpreter's teardown, once its threads are done: run the `atexit`
    handlers and flush the standard streams."""
    atexit._run_exitfuncs()  # noqa: SLF001 - what a normal exit runs before its teardown
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
