"""Modules imported on a thread while the process waits for something else.

A refresh runs every step in one process. The scoring steps' libraries (scikit-learn, with SciPy and pandas under
it: ~1 s of CPU) used to be imported when the definitions loaded, before the first step; the dbt step then waits
for dbt's process for seconds to minutes with the interpreter idle. The dbt step now imports them meanwhile
(`imported_meanwhile`), so the scoring steps find them loaded and the startup does not pay for them.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Iterator, Sequence


@contextlib.contextmanager
def imported_meanwhile(modules: Sequence[str]) -> Iterator[None]:
    """Import `modules` (dotted names) on a thread while the block runs; after the block, wait for the thread.

    Python's import locks make this safe: code importing one of these modules while the thread does waits for the
    module to be whole. A module that fails to import is left out silently (Python forgets a failed import): the
    code that needs it gets the error when it imports it. The thread is a daemon: a stuck import never holds up the
    process's exit."""
    thread = threading.Thread(target=_import_all, args=(tuple(modules),), name="imported-meanwhile", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
