"""dbt's start off the refresh's serial path: a dbt process preloaded while the refresh starts.

Every refresh runs one `dbt build` (`python -m orchestration.dbt_process build ...`, started by dagster-dbt in the
dbt step). Before its first node that process imports Python and dbt, the dbt-duckdb adapter and the libraries of the
Python models (~2 s of wall time on this project's machine), all of it after the refresh's own start, ingest and raw
gates, while the refresh's start leaves the second core idle. So `actionhouse refresh` starts, first thing, a
process that does those imports meanwhile and waits (`preloaded_dbt_process`), without opening the warehouse (the
ingest step writes it; DuckDB locks the file). When the dbt step starts its command, that process runs it:

- The command (`orchestration.dbt_process`) starts as before and, finding `PRELOADED_DBT_ENV` (set only while the
  refresh's run executes), connects to the preloaded process (a Unix socket of this user's) and hands it its
  arguments, environment, working directory and standard streams (the file descriptors themselves,
  `socket.send_fds`), then waits for dbt's exit status and exits with it (`run_in_preloaded_process`). Its own
  Python start is all it pays (~0.1 s).
- The preloaded process (`serve`) takes one command only: it writes what its imports printed (nothing, normally)
  to the command's streams, puts the command's streams in place of its own as the interpreter would have opened
  them, takes its environment, arguments and folder, runs `orchestration.dbt_process.main()` (dbt's command line
  with the same patches), ends as that process would (threads waited for, `atexit` handlers: dbt-duckdb closes
  the warehouse), lets go of the streams and only then sends the exit status. The same stdout lines, log file,
  artifacts and status as the command running dbt itself; it refuses (and the command runs dbt itself) when
  anything its imports could have read differs: the interpreter, its flags, `sys.path`, or an environment
  variable but those set for the command or by imports (`_SET_AFTER_THE_START`).
- Without it (no `PRELOADED_DBT_ENV`: `dagster dev`, the UI, tests, `actionhouse prepare`; the process gone,
  already used, failed or refusing), the command runs dbt itself, as before.
- Signals: the command forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT to the preloaded process (dagster-dbt's SIGINT
  on a cancelled run, recovery's SIGTERM, a terminal's), which has the dispositions the command had at its start;
  a command ended by a signal there ends by the same signal here. If the command disappears (SIGKILL), the
  preloaded process stops dbt (SIGINT, then for good after `_ORPHAN_GRACE_SECONDS`): recovery
  (`orchestration.recovery`) finds the command by the run id in its environment, not the preloaded process (its
  `/proc/<pid>/environ` is the one it started with), so stopping the command stops both.
- Lifetime: unused, it ends with the refresh: the refresh kills it at the end of `preloaded_dbt_process`'s
  block, its end of a socket pair reads end-of-file when the refresh's process ends whichever way, and until it
  takes a command the kernel kills it at once if the refresh dies (`PR_SET_PDEATHSIG`). It is in a session of its
  own, so a terminal's Ctrl-C reaches it through the command only (dbt sees the same signals as when the command
  ran it).

Linux only (abstract Unix socket names, `PR_SET_PDEATHSIG`); elsewhere the command runs dbt itself.
`ACTIONHOUSE_PRELOAD_DBT=0` turns the preloading off.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NoReturn

# Where the preloaded process listens (an abstract Unix socket name, '@' for the leading NUL), set in the
# environment of the refresh's run only.
PRELOADED_DBT_ENV = "ACTIONHOUSE_PRELOADED_DBT"
# "0" (or "false", "no", "off") keeps the refresh from preloading dbt.
PRELOAD_SWITCH_ENV = "ACTIONHOUSE_PRELOAD_DBT"
# Environment variables that may differ between the preloaded process's start and the command, the rest must not:
# - set for the command by the refresh (`ACTIONHOUSE_*`, `DAGSTER_HOME`) and dagster-dbt (`DBT_*`,
#   `DAGSTER_DBT_CLI`): dbt reads them when its command runs (`dbt.cli.requires.preflight` takes the whole
#   environment then); nothing the preloaded imports run reads them;
# - set by scikit-learn and joblib when the refresh imports them (`KMP_*`, read by Intel's OpenMP runtime, which
#   nothing a dbt build imports loads);
# - and those the preloaded imports set themselves (polars's `_RJEM_MALLOC_CONF`, its allocator's settings:
#   inherited from the refresh's own import of polars, the command's polars holds the same settings twice).
_SET_AFTER_THE_START = ("ACTIONHOUSE_", "DAGSTER", "DBT_", "KMP_")
# What dagster-dbt adds to the environment of the dbt commands it starts (`DbtCliResource.cli`) and Python reads at
# its start: the preloaded process starts with them too.
_DAGSTER_DBT_PYTHON_DEFAULTS = {"PYTHONLEGACYWINDOWSSTDIO": "1"}
_DAGSTER_DBT_PYTHON_SETTINGS = {"PYTHONUNBUFFERED": "1"}
# (By name: this module is imported by every dbt command, on any platform.)
_FORWARDED_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, name)
)
# How long a command waits for the preloaded process to take it (it is still importing, or stuck) before running
# dbt itself; the imports take ~2 s and start seconds before the dbt step.
_ACCEPT_TIMEOUT_SECONDS = 60.0
# A running dbt whose command disappeared gets SIGINT (dbt cancels its queries), then this long to end.
_ORPHAN_GRACE_SECONDS = 1.0
_MESSAGE_BYTES = 1 << 20
_PR_SET_PDEATHSIG = 1


def preload_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether a refresh preloads dbt here: on Linux, unless `ACTIONHOUSE_PRELOAD_DBT` turns it off."""
    switch = environ.get(PRELOAD_SWITCH_ENV, "").strip().lower()
    return sys.platform.startswith("linux") and switch not in ("0", "false", "no", "off")


def _socket_name(address: str) -> str:
    return "\0" + address.removeprefix("@")


def _send(sock: socket.socket, message: Mapping[str, Any]) -> None:
    sock.send(json.dumps(message).encode())  # one message (SOCK_SEQPACKET)


def _receive(sock: socket.socket) -> dict[str, Any] | None:
    """The next message, or None when the other end is gone (end of file, an error, a timeout)."""
    try:
        data = sock.recv(_MESSAGE_BYTES)
    except OSError:
        return None
    return json.loads(data) if data else None


def _peer_uid(sock: socket.socket) -> int:
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    return uid


def _interpreter() -> dict[str, Any]:
    """What a Python process's imports can depend on besides the environment."""
    return {
        "executable": sys.executable,
        "flags": list(sys.flags),
        "xoptions": sorted(map(str, sys._xoptions.items())),
        "warnoptions": list(sys.warnoptions),
        "sys_path": list(sys.path),
    }


def _ignored_signals() -> list[int]:
    return [int(signum) for signum in _FORWARDED_SIGNALS if signal.getsignal(signum) is signal.SIG_IGN]


# --- The command's side: `python -m orchestration.dbt_process ...` -----------------------------------------------


def run_in_preloaded_process(argv: Sequence[str]) -> int | None:
    """Hand this dbt command (`argv` as `sys.argv`, the environment, the working directory, the standard streams)
    to the refresh's preloaded dbt process and return dbt's exit status; None when there is none to take it (the
    caller runs dbt itself). Ends this process by the signal dbt's ended by, if one did."""
    address = os.environ.get(PRELOADED_DBT_ENV, "").strip()
    if not address or not preload_enabled():
        return None
    try:
        for fd in (0, 1, 2):  # a closed one would be taken by the socket below
            os.fstat(fd)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    except OSError:
        return None
    with sock:
        try:
            sock.connect(_socket_name(address))
            if _peer_uid(sock) != os.getuid():
                return None
            request = {
                "argv": list(argv),
                "env": {name: value for name, value in os.environ.items() if name != PRELOADED_DBT_ENV},
                "cwd": os.getcwd(),
                "interpreter": _interpreter(),
                "ignored_signals": _ignored_signals(),
            }
            socket.send_fds(sock, [json.dumps(request).encode()], [0, 1, 2])
            sock.settimeout(_ACCEPT_TIMEOUT_SECONDS)
            reply = _receive(sock)
        except OSError:
            return None
        if not reply or "accepted" not in reply:
            return None  # refused, gone or not ready in time: nothing of dbt has run
        sock.settimeout(None)
        return _wait_for_dbt(sock, int(reply["accepted"]))


def _wait_for_dbt(sock: socket.socket, worker_pid: int) -> int:
    forwarded: list[int] = []

    def forward(signum: int, _frame: Any) -> None:
        forwarded.append(signum)
        with contextlib.suppress(OSError):
            os.kill(worker_pid, signum)

    for signum in _FORWARDED_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, forward)
    while (reply := _receive(sock)) is not None:
        if "exit" in reply:
            return int(reply["exit"])
        if "signal" in reply:
            _end_by_signal(int(reply["signal"]))
    # The preloaded process ended without a status: killed (by a signal forwarded from here, or from outside).
    if forwarded:
        _end_by_signal(forwarded[-1])
    print("actionhouse: the preloaded dbt process ended without an exit status", file=sys.stderr, flush=True)
    return 1


def _end_by_signal(signum: int) -> NoReturn:
    """End this process the way a process killed by `signum` ends (what dagster-dbt sees as its return code)."""
    signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signum])
    os.kill(os.getpid(), signum)
    time.sleep(5)
    os._exit(128 + signum)


# --- The refresh's side -------------------------------------------------------------------------------------------


class PreloadedDbtProcess:
    """A preloaded dbt process the refresh started (`preloaded_dbt_process`), and what became of it."""

    def __init__(self, address: str, process: Any) -> None:
        self.address = address
        self.process = process
        self.started = time.monotonic()
        self.outcome: str | None = None  # "accepted", "refused" or "failed", as the process said
        self.closing = False

    @contextlib.contextmanager
    def offered(self) -> Iterator[None]:
        """Within the block, dbt commands started from this process hand themselves to the preloaded one."""
        previous = os.environ.get(PRELOADED_DBT_ENV)
        os.environ[PRELOADED_DBT_ENV] = self.address
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(PRELOADED_DBT_ENV, None)
            else:
                os.environ[PRELOADED_DBT_ENV] = previous


@contextlib.contextmanager
def preloaded_dbt_process(
    report: Callable[[str], None], project_dir: os.PathLike | str
) -> Iterator[PreloadedDbtProcess | None]:
    """Start a dbt process that imports dbt and what its build needs and waits for the refresh's dbt command
    (see the module docstring); stop it at the end of the block if it took none. Yields None when preloading is
    off or not possible here. `report` gets a line when the process takes the command, or why it did not (names,
    never values, of the environment). `project_dir` is the dbt project folder dagster-dbt runs dbt in."""
    if not preload_enabled():
        yield None
        return
    import secrets
    import subprocess
    import tempfile
    import threading

    address = f"@actionhouse-dbt-{secrets.token_hex(16)}"
    try:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        control, worker_control = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    except OSError as error:
        report(f"dbt not preloaded ({type(error).__name__}: {error.strerror or error}); dbt starts on its own")
        yield None
        return
    # What the preloaded imports print goes to files, for the command's streams (and a failure's last words here).
    with listener, control, worker_control, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            listener.bind(_socket_name(address))
            listener.listen(1)
            fds = (listener.fileno(), worker_control.fileno())
            process = subprocess.Popen(
                [sys.executable, "-m", __name__, *map(str, fds), str(os.getpid())],
                env={**_DAGSTER_DBT_PYTHON_DEFAULTS, **os.environ, **_DAGSTER_DBT_PYTHON_SETTINGS},
                pass_fds=fds,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=project_dir,  # where dagster-dbt starts dbt: the same `sys.path[0]`
                start_new_session=True,
            )
        except OSError as error:
            report(f"dbt not preloaded ({type(error).__name__}: {error.strerror or error}); dbt starts on its own")
            yield None
            return
        worker_control.close()
        listener.close()  # the preloaded process listens alone: once it is gone, commands are refused at once
        preloaded = PreloadedDbtProcess(address, process)
        reporter = threading.Thread(
            target=_report_preloaded_process, args=(control, preloaded, err, report), daemon=True
        )
        reporter.start()
        try:
            yield preloaded
        finally:
            # End of file for the preloaded process: unused, it ends now; running a command, it carries on.
            preloaded.closing = True
            with contextlib.suppress(OSError):
                control.shutdown(socket.SHUT_RDWR)
            reporter.join(timeout=5)
            if preloaded.outcome is None:
                report("the preloaded dbt process was not used (no dbt command of this run asked for it)")
            if preloaded.outcome == "accepted":
                # Its command has ended with the run (else it carries on with the command, and ends with it).
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=10)
            else:
                process.kill()  # unused: nothing open but its imports (it may still be importing)
                process.wait()


def _report_preloaded_process(
    control: socket.socket, preloaded: PreloadedDbtProcess, err: Any, report: Callable[[str], None]
) -> None:
    """Say what the preloaded process did (its messages on the control socket), or that it ended unused."""
    ready_after = None
    while (message := _receive(control)) is not None:
        if "ready" in message:
            ready_after = float(message["ready"])
        elif "accepted" in message:
            preloaded.outcome = "accepted"
            spare = time.monotonic() - preloaded.started - (ready_after or 0.0)
            report(
                f"dbt started in the dbt process preloaded at the refresh's start (pid {preloaded.process.pid}; its "
                f"imports took {ready_after or 0.0:.1f} s, done {max(spare, 0.0):.1f} s before dbt's step needed them)"
            )
        elif "refused" in message:
            preloaded.outcome = "refused"
            report(f"dbt started on its own: the preloaded dbt process could not take it ({message['refused']})")
        elif "failed" in message:
            preloaded.outcome = "failed"
            report(f"dbt not preloaded: its imports failed ({message['failed']}); dbt starts on its own")
    if preloaded.closing or preloaded.outcome is not None:
        return
    # Ended by itself, unused (killed, or its interpreter failed before it could say why).
    with contextlib.suppress(Exception):
        preloaded.process.wait(timeout=1)
    preloaded.outcome = "ended"
    err.seek(0)
    last = (err.read().decode(errors="replace").strip().splitlines() or ["no output"])[-1][:200]
    report(f"the preloaded dbt process ended unused (status {preloaded.process.poll()}: {last}); dbt starts on its own")


# --- The preloaded process ----------------------------------------------------------------------------------------


def preload() -> None:
    """Import what a dbt build imports before and while it runs its nodes (dbt's command line and tasks, the DuckDB
    adapter, its plugin and the Python models' libraries; each import's place in the build below) and apply
    `orchestration.dbt_process`'s patches. Opens nothing."""
    import asyncio  # noqa: F401 - dbt-duckdb, before the first Python model

    import dbt.adapters.duckdb  # noqa: F401 - when dbt registers the profile's adapter
    import dbt.adapters.duckdb.environments.local  # noqa: F401 - at the first connection
    import dbt.adapters.duckdb.impl  # noqa: F401
    import dbt.cli.main  # noqa: F401 - dbt's command line
    import dbt.parser.sql  # noqa: F401 - the build's task and its runners
    import dbt.task.build  # noqa: F401
    import dbt_common.clients.agate_helper  # noqa: F401
    import polars  # noqa: F401 - what the Python models import beside the project's libraries
    import pyarrow  # noqa: F401
    import pyarrow.dataset  # noqa: F401 - a Python model's materialization (it imports pandas)

    from landing.dbt_plugin import import_model_libraries
    from orchestration import dbt_process

    import_model_libraries()  # what the plugin imports at the first connection
    dbt_process.skip_unlogged_events()
    dbt_process.freeze_loaded_objects_before_nodes()


def _die_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this process when the refresh's process ends (while it waits for a command)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # ended before the call above
        os._exit(0)


def _outlive_parent() -> None:
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, 0)


def serve(listen_fd: int, control_fd: int, parent_pid: int) -> NoReturn:
    """The preloaded process: preload, then run the first dbt command that hands itself over; end when the
    refresh ends first (see the module docstring)."""
    _die_with_parent(parent_pid)
    started = time.monotonic()
    control = socket.socket(fileno=control_fd)
    interpreter = _interpreter()  # before the imports, which may add to `sys.path`
    environ = dict(os.environ)
    try:
        preload()
        set_by_imports = {
            name for name in environ.keys() | os.environ.keys() if environ.get(name) != os.environ.get(name)
        }
    except BaseException as error:  # noqa: BLE001 - any failure is reported and leaves dbt to start on its own
        with contextlib.suppress(OSError):
            _send(control, {"failed": f"{type(error).__name__}: {error}"[:300]})
        os._exit(1)
    with contextlib.suppress(OSError):
        _send(control, {"ready": round(time.monotonic() - started, 2)})
    import select

    listener = socket.socket(fileno=listen_fd)
    while True:
        readable, _, _ = select.select([listener, control], [], [])
        if control in readable and not control.recv(_MESSAGE_BYTES):
            os._exit(0)  # the refresh has ended
        if listener in readable:
            command = _take_command(listener, interpreter, environ, set_by_imports, control)
            if command is not None:
                listener.close()
                _run_command(*command)


def _take_command(
    listener: socket.socket,
    interpreter: dict[str, Any],
    environ: dict[str, str],
    set_by_imports: set[str],
    control: socket.socket,
) -> tuple[socket.socket, dict[str, Any], list[int]] | None:
    """The next connection's command with its standard streams, once accepted; None for a connection that is not
    one (another user's, gone, malformed). Refusing a command ends this process (it is for one command only)."""
    conn, _ = listener.accept()
    fds: list[int] = []
    try:
        if _peer_uid(conn) != os.getuid():
            conn.close()
            return None
        conn.settimeout(10)
        data, fds, flags, _ = socket.recv_fds(conn, _MESSAGE_BYTES, 3)
        conn.settimeout(None)
        request = json.loads(data) if data and not flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) else None
        if request is None or len(fds) != 3:
            raise ValueError("not a command")
    except (OSError, ValueError):
        for fd in fds:
            os.close(fd)
        conn.close()
        return None
    reason = _why_not(request, interpreter, environ, set_by_imports)
    if reason:
        with contextlib.suppress(OSError):
            _send(conn, {"refused": reason})
            _send(control, {"refused": reason})
        os._exit(0)
    try:
        _send(conn, {"accepted": os.getpid()})
    except OSError:  # the command is gone already
        os._exit(0)
    _outlive_parent()  # the command's now: it ends with the command, as a dbt process the command started would
    with contextlib.suppress(OSError):
        _send(control, {"accepted": os.getpid()})
    control.close()
    return conn, request, fds


def _why_not(
    request: dict[str, Any], interpreter: dict[str, Any], environ: dict[str, str], set_by_imports: set[str]
) -> str | None:
    """Why this process cannot run the command as the command's own process would (None: it can): another
    interpreter setup, or an environment variable the imports could have read that differs (`_SET_AFTER_THE_START`).
    Names, never values, of the environment."""
    theirs = request["interpreter"]
    for key, ours in interpreter.items():
        if theirs.get(key) != ours:
            return f"another Python setup ({key})"

    def compared(env: Mapping[str, str]) -> dict[str, str]:
        return {
            name: value
            for name, value in env.items()
            if not name.startswith(_SET_AFTER_THE_START) and name not in set_by_imports
        }

    ours, theirs = compared(environ), compared(request["env"])
    differing = sorted(name for name in ours.keys() | theirs.keys() if ours.get(name) != theirs.get(name))
    if differing:
        return f"environment variables changed since it started: {', '.join(differing[:5])}"
    return None


def _run_command(conn: socket.socket, request: dict[str, Any], fds: list[int]) -> NoReturn:
    """Run the command as its own process would have, send its exit status, end."""
    import threading

    finished = threading.Event()
    # Named: an unnamed thread would take a number from the counter that names dbt's threads in its log lines.
    watcher = threading.Thread(target=_stop_if_orphaned, args=(conn, finished), name="orphan-watch", daemon=True)
    watcher.start()
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = list(request["argv"])
    for signum in _FORWARDED_SIGNALS:
        ignored = signum in request["ignored_signals"]
        default = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
        signal.signal(signum, signal.SIG_IGN if ignored else default)
    _take_standard_streams(fds)
    from orchestration import dbt_process

    outcome: dict[str, int]
    try:
        outcome = {"exit": dbt_process.main()}
    except KeyboardInterrupt:
        # Uncaught, the interpreter prints it and ends the process by SIGINT.
        sys.excepthook(*sys.exc_info())
        outcome = {"signal": int(signal.SIGINT)}
    except BaseException:  # noqa: BLE001 - what the interpreter does with an uncaught exception
        sys.excepthook(*sys.exc_info())
        outcome = {"exit": 1}
    finished.set()
    _finish_like_an_exit()
    # Let go of the command's streams before it exits, so that dagster-dbt's read of them ends with it.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    with contextlib.suppress(OSError):
        _send(conn, outcome)
    os._exit(0)


def _stop_if_orphaned(conn: socket.socket, finished: Any) -> None:
    """Stop dbt when its command disappears (killed): it has no one to report to, and would hold the warehouse."""
    with contextlib.suppress(OSError):
        while conn.recv(_MESSAGE_BYTES):
            pass
    if finished.is_set():
        return
    with contextlib.suppress(OSError):
        os.kill(os.getpid(), signal.SIGINT)  # dbt cancels its queries
    if not finished.wait(_ORPHAN_GRACE_SECONDS):
        os._exit(1)


def _take_standard_streams(fds: list[int]) -> None:
    """Put the command's stdin, stdout and stderr in place of this process's, after writing there what the
    preloaded imports printed, with `sys.stdin/stdout/stderr` made as the interpreter makes them at its start."""
    import io

    sys.stdout.flush()
    sys.stderr.flush()
    printed = {}
    for fd in (1, 2):
        os.lseek(fd, 0, os.SEEK_SET)
        with io.open(os.dup(fd), "rb") as preload_output:  # noqa: UP020
            printed[fd] = preload_output.read()
    for fd, theirs in zip((0, 1, 2), fds, strict=True):
        os.dup2(theirs, fd)
        os.close(theirs)
    for fd in (1, 2):
        view = memoryview(printed[fd])
        while view:
            view = view[os.write(fd, view) :]
    # The interpreter made every standard stream write through when told to leave them unbuffered (`-u`).
    buffered = not sys.stdout.write_through
    for name, fd in (("stdin", 0), ("stdout", 1), ("stderr", 2)):
        old = getattr(sys, name)
        stream = _standard_stream(fd, name, old.encoding, old.errors, buffered)
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _standard_stream(fd: int, name: str, encoding: str, errors: str, buffered: bool) -> Any:
    """`sys.<name>` on `fd` as CPython makes it at start-up (`create_stdio`; `buffered`: not `-u`)."""
    import io

    writing = fd != 0
    buffering = -1 if buffered or not writing else 0
    buffer = io.open(fd, "wb" if writing else "rb", buffering, closefd=False)  # noqa: SIM115, UP020 - sys.std*
    raw = buffer.raw if hasattr(buffer, "raw") else buffer
    raw.name = f"<{name}>"
    line_buffering = buffered and (raw.isatty() or fd == 2)
    stream = io.TextIOWrapper(buffer, encoding, errors, "\n", line_buffering=line_buffering, write_through=not buffered)
    stream.mode = "w" if writing else "r"
    return stream


def _finish_like_an_exit() -> None:
    """What a normal exit does before the interpreter's teardown (`orchestration.process.exit_without_teardown`):
    wait for the threads a command left running, run the `atexit` handlers, flush the standard streams."""
    import threading

    from orchestration.process import run_exit_handlers

    main = threading.main_thread()
    for thread in threading.enumerate():
        if thread is not main and not thread.daemon:
            thread.join()
    run_exit_handlers()


if __name__ == "__main__":
    serve(*map(int, sys.argv[1:4]))
