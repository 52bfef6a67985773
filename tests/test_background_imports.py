"""The refresh's definitions load without the scoring steps' libraries (scikit-learn, SciPy), which the dbt step
imports on a thread while it waits for dbt (issue 14)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from orchestration.background_imports import imported_meanwhile
from orchestration.defs.ml.assets import SCORING_MODULES

LATER_LIBRARIES = ("sklearn", "scipy")  # what the scoring steps need, imported meanwhile
# pandas: imported by scikit-learn meanwhile, or by DuckDB when a quality gate reads a frame
NOT_AT_THE_DEFINITIONS_LOAD = (*LATER_LIBRARIES, "pandas")


def test_the_definitions_load_without_the_scoring_steps_libraries(dbt_manifest, tmp_path):
    code = (
        "import json, sys\n"
        "from orchestration.definitions import defs\n"
        "from orchestration.defs.schedules.refresh import REFRESH_JOB_NAME\n"
        "job = defs().resolve_job_def(REFRESH_JOB_NAME)\n"
        f"print(json.dumps([name for name in {NOT_AT_THE_DEFINITIONS_LOAD!r} if name in sys.modules]))\n"
    )
    env = {**os.environ, "ACTIONHOUSE_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_the_scoring_modules_bring_the_libraries_the_steps_need():
    code = (
        "import importlib, json, sys\n"
        f"for name in {SCORING_MODULES!r}: importlib.import_module(name)\n"
        f"print(json.dumps([name for name in {LATER_LIBRARIES!r} if name in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == list(LATER_LIBRARIES)


def _module_file(tmp_path, name: str, body: str) -> None:
    (tmp_path / f"{name}.py").write_text(body)


def test_imported_meanwhile_imports_on_a_thread_while_the_block_runs(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    started = threading.Event()
    _module_file(tmp_path, "bg_slow_module", "import time, bg_signal\nbg_signal.started.set()\ntime.sleep(0.3)\n")
    monkeypatch.setitem(sys.modules, "bg_signal", type(sys)("bg_signal"))
    sys.modules["bg_signal"].started = started
    monkeypatch.delitem(sys.modules, "bg_slow_module", raising=False)
    before = time.perf_counter()
    with imported_meanwhile(["bg_slow_module"]):
        assert started.wait(5)  # imported by another thread while the block runs
        assert threading.current_thread() is threading.main_thread()
    assert "bg_slow_module" in sys.modules and time.perf_counter() - before >= 0.3  # waited for after the block
    assert not any(thread.name == "imported-meanwhile" for thread in threading.enumerate())


def test_a_module_that_fails_to_import_raises_where_it_is_imported_again(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    _module_file(tmp_path, "bg_broken_module", "raise ValueError('broken on purpose')\n")
    _module_file(tmp_path, "bg_good_module", "VALUE = 42\n")
    for name in ("bg_broken_module", "bg_good_module"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with imported_meanwhile(["bg_broken_module", "bg_good_module"]):
        pass
    assert "bg_broken_module" not in sys.modules and sys.modules["bg_good_module"].VALUE == 42
    with pytest.raises(ValueError, match="broken on purpose"):
        import bg_broken_module  # noqa: F401


def test_the_block_raising_still_waits_for_the_imports(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    _module_file(tmp_path, "bg_late_module", "import time\ntime.sleep(0.2)\n")
    monkeypatch.delitem(sys.modules, "bg_late_module", raising=False)
    with pytest.raises(RuntimeError), imported_meanwhile(["bg_late_module"]):
        raise RuntimeError("dbt failed")
    assert "bg_late_module" in sys.modules
