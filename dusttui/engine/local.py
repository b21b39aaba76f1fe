"""The local engine's life, seen from the front ends: find it, start it once, stop it (contract B).

One local engine per data dir (``<data dir>/engine``), a detached process (daemon.py) that every
``dusttui`` reuses and that stops by itself once idle. Its files, beside the database:

- ``engine.json`` — the discovery file (0600): pid, URL, start time, version and the options it was
  started with. Never the key: clients read the key file (``server_key``, 0600) themselves.
- ``engine.lock`` — a file lock: whoever starts, restarts or stops the engine holds it, so several
  processes calling :func:`ensure_local_engine` at once get exactly one engine; the engine takes it
  too before an idle stop, so it never stops under a caller that is about to use it.
- ``engine.log`` — the engine's stderr: a line per start and stop, and any error.

Standard library only (the CLI imports this before Textual, and before anything heavy).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from dusttui import __version__
from dusttui.engine.auth import KEY_ENV, ServerKeyError, file_key, key_file
from dusttui.engine.process import CHILD_ERROR_PREFIX, EngineStartError

try:
    import fcntl
except ImportError:  # pragma: no cover (Windows: no lock; one front end at a time)
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "CHILD_ERROR_PREFIX",
    "EngineStartError",
    "LocalEngine",
    "ensure_local_engine",
    "find_local_engine",
    "stop_local_engine",
]

DISCOVERY_NAME = "engine.json"
LOCK_NAME = "engine.lock"
LOG_NAME = "engine.log"
IDLE_ENV = "DUSTTUI_ENGINE_IDLE_SECONDS"
DEFAULT_IDLE_SECONDS = 300.0
ENGINE_PATH = "/dusttui/v1/engine"
_LOG_ROTATE_BYTES = 1024 * 1024
_MODULE = "dusttui.engine.daemon"


@dataclass(frozen=True)
class LocalEngine:
    """A running local engine, as found or started."""

    url: str
    api_key: str = field(repr=False)
    pid: int
    started: bool  # this call started it (False: an engine was already running)
    apps_dirs: tuple[str, ...]
    mismatch: str | None  # when reused although started with other options: what differs


@dataclass(frozen=True)
class Discovery:
    """What ``engine.json`` holds."""

    pid: int
    url: str
    started: int
    version: str
    apps_dir: str | None
    token_delay: float | None
    idle_stop_seconds: float | None


# ------------------------------------------------------------------ files


def discovery_file(engine_dir: Path) -> Path:
    """Where a running local engine says where it listens."""
    return Path(engine_dir) / DISCOVERY_NAME


def lock_file(engine_dir: Path) -> Path:
    """The file lock taken to start, restart or stop the engine."""
    return Path(engine_dir) / LOCK_NAME


def log_file(engine_dir: Path) -> Path:
    """The engine's stderr."""
    return Path(engine_dir) / LOG_NAME


def write_discovery(engine_dir: Path, discovery: Discovery) -> None:
    """Write ``engine.json`` whole (0600 from its creation), replacing any older one."""
    path = discovery_file(engine_dir)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(discovery), handle)
    os.replace(draft, path)


def read_discovery(engine_dir: Path) -> Discovery | None:
    """``engine.json`` if it exists and reads well."""
    try:
        data = json.loads(discovery_file(engine_dir).read_text())
        return Discovery(**data)
    except (OSError, ValueError, TypeError):
        return None


def remove_discovery(engine_dir: Path, pid: int) -> None:
    """Remove ``engine.json`` if it still names `pid`."""
    found = read_discovery(engine_dir)
    if found is not None and found.pid == pid:
        with contextlib.suppress(OSError):
            discovery_file(engine_dir).unlink()


def try_lock(path: Path) -> int | None:
    """The lock's fd if it could be taken at once, else None (close the fd to release)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    if fcntl is None:
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


@contextlib.contextmanager
def _locked(engine_dir: Path, deadline: float) -> Iterator[None]:
    path = lock_file(engine_dir)
    while True:
        fd = try_lock(path)
        if fd is not None:
            break
        if time.monotonic() > deadline:
            raise EngineStartError(
                f"Another dusttui has been starting or stopping the local engine for too long "
                f"(lock {path}); try again."
            )
        time.sleep(0.02)
    try:
        yield
    finally:
        os.close(fd)


def _read_key(engine_dir: Path) -> str | None:
    try:
        return key_file(engine_dir).read_text().strip() or None
    except OSError:
        return None


# ------------------------------------------------------------------ processes


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie nobody reaped yet counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): kill(0) is all we know
    return state not in {"Z", "X"}


def _is_engine_process(pid: int) -> bool:
    """True when `pid` is a local engine (guards against a recycled pid before a signal)."""
    try:
        return _MODULE.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists() and _alive(pid)
    except OSError:
        return False


def _wait_gone(pid: int, deadline: float) -> bool:
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# ------------------------------------------------------------------ HTTP (urllib, no proxy)

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _call(url: str, key: str, method: str, path: str, timeout: float) -> dict[str, Any] | None:
    request = urllib.request.Request(
        url + path, method=method, headers={"Authorization": f"Bearer {key}"}
    )
    try:
        with _OPENER.open(request, timeout=max(0.1, timeout)) as response:
            answer = json.loads(response.read())
    except (OSError, ValueError):  # URLError, HTTPError, timeouts are OSErrors
        return None
    return answer if isinstance(answer, dict) else None


def _probe(discovery: Discovery, key: str, timeout: float) -> dict[str, Any] | None:
    """The engine's `/dusttui/v1/engine` object if it answers as the discovered process."""
    answer = _call(discovery.url, key, "GET", ENGINE_PATH, timeout)
    info = answer.get("engine") if answer else None
    if isinstance(info, dict) and info.get("pid") == discovery.pid:
        return info
    return None


# ------------------------------------------------------------------ the contract


def idle_seconds_from_env() -> float | None:
    """``DUSTTUI_ENGINE_IDLE_SECONDS`` (default 300); 0 or less: never stop when idle."""
    text = os.environ.get(IDLE_ENV, "").strip()
    try:
        value = float(text) if text else DEFAULT_IDLE_SECONDS
    except ValueError:
        value = DEFAULT_IDLE_SECONDS
    return value if value > 0 else None


def _engine(discovery: Discovery, key: str, info: dict[str, Any], started: bool) -> LocalEngine:
    dirs = info.get("apps_dirs")
    return LocalEngine(
        url=discovery.url,
        api_key=key,
        pid=discovery.pid,
        started=started,
        apps_dirs=tuple(str(d) for d in dirs) if isinstance(dirs, list) else (),
        mismatch=None,
    )


def _find(engine_dir: Path, timeout: float) -> tuple[LocalEngine, Discovery, dict[str, Any]] | None:
    discovery = read_discovery(engine_dir)
    key = _read_key(engine_dir)
    if discovery is None or key is None or not _alive(discovery.pid):
        return None
    info = _probe(discovery, key, timeout)
    if info is None:
        return None
    return _engine(discovery, key, info, started=False), discovery, info


def find_local_engine(engine_dir: Path) -> LocalEngine | None:
    """The local engine of this data dir if it runs and answers, else None; never starts one."""
    found = _find(Path(engine_dir).expanduser().resolve(), timeout=3.0)
    return None if found is None else found[0]


def local_engine_info(engine_dir: Path) -> dict[str, Any] | None:
    """The running local engine's ``GET /dusttui/v1/engine`` object, or None; never starts one."""
    found = _find(Path(engine_dir).expanduser().resolve(), timeout=3.0)
    return None if found is None else found[2]


def _differences(discovery: Discovery, apps_dir: str | None, token_delay: float | None) -> str:
    what = []
    if discovery.apps_dir != apps_dir:
        what.append(f"apps dir {discovery.apps_dir or 'none'} (asked: {apps_dir or 'none'})")
    if discovery.token_delay != token_delay:
        had, asked = discovery.token_delay, token_delay
        what.append(
            f"token delay {had if had is not None else 'default'} (asked: "
            f"{asked if asked is not None else 'default'})"
        )
    if discovery.version != __version__:
        what.append(f"version {discovery.version} (this dusttui: {__version__})")
    return " and ".join(what)


def ensure_local_engine(
    engine_dir: Path,
    *,
    apps_dir: Path | None = None,
    token_delay: float | None = None,
    timeout: float = 30.0,
) -> LocalEngine:
    """The running local engine, else a new one (exactly one when several processes call at once).

    An idle engine started with other options (apps dir, token delay, dusttui version) is
    restarted; a busy one is reused and ``mismatch`` says what differs. Raises EngineStartError.
    """
    engine_dir = Path(engine_dir).expanduser().resolve()
    deadline = time.monotonic() + timeout
    wanted_apps = None if apps_dir is None else str(Path(apps_dir).expanduser().resolve())
    wanted_delay = None if token_delay is None else float(token_delay)
    found = _find(engine_dir, timeout=3.0)
    if found is not None and not _differences(found[1], wanted_apps, wanted_delay):
        return found[0]
    with _locked(engine_dir, deadline):
        found = _find(engine_dir, timeout=min(10.0, max(0.5, deadline - time.monotonic())))
        if found is not None:
            engine, discovery, info = found
            differs = _differences(discovery, wanted_apps, wanted_delay)
            if not differs:
                return engine
            running = info.get("running_runs")
            if isinstance(running, int) and running > 0:
                return replace(
                    engine,
                    mismatch=f"the local engine (pid {engine.pid}) was started with {differs}; "
                    f"it has {running} running run{'s' if running != 1 else ''}, so it was kept",
                )
            _stop(engine_dir, discovery, engine.api_key, deadline)
        else:
            _clear_stale(engine_dir, deadline)
        return _start(engine_dir, wanted_apps, wanted_delay, deadline, timeout)


def stop_local_engine(engine_dir: Path, timeout: float = 10.0) -> bool:
    """Stop the local engine gracefully (running runs interrupted); True if one was running."""
    engine_dir = Path(engine_dir).expanduser().resolve()
    deadline = time.monotonic() + timeout
    with _locked(engine_dir, deadline):
        discovery = read_discovery(engine_dir)
        if discovery is None:
            return False
        if not (_alive(discovery.pid) and _is_engine_process(discovery.pid)):
            remove_discovery(engine_dir, discovery.pid)
            return False
        _stop(engine_dir, discovery, _read_key(engine_dir), deadline)
        return True


def _stop(engine_dir: Path, discovery: Discovery, key: str | None, deadline: float) -> None:
    """Ask, then signal, then kill; returns once the process is gone (or the deadline passed)."""
    pid = discovery.pid
    left = deadline - time.monotonic()
    asked = key is not None and _call(
        discovery.url, key, "POST", ENGINE_PATH + "/stop", min(3, left)
    )
    if not asked and _is_engine_process(pid):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    # The graceful stop needs a few seconds (runs interrupted, streams closed); then force it.
    if not _wait_gone(pid, deadline - 1.0) and _is_engine_process(pid):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, time.monotonic() + 2.0)
    remove_discovery(engine_dir, pid)


def _clear_stale(engine_dir: Path, deadline: float) -> None:
    """A discovery file whose engine does not answer: it is stopping (wait) or hung (stop it)."""
    discovery = read_discovery(engine_dir)
    if discovery is None:
        return
    pid = discovery.pid
    if _alive(pid) and _is_engine_process(pid):
        if not _wait_gone(pid, min(deadline, time.monotonic() + 5.0)):
            _stop(engine_dir, discovery, None, min(deadline, time.monotonic() + 8.0))
    remove_discovery(engine_dir, pid)


def _open_log(engine_dir: Path) -> tuple[int, int]:
    path = log_file(engine_dir)
    with contextlib.suppress(OSError):
        if path.stat().st_size > _LOG_ROTATE_BYTES:
            os.replace(path, path.with_name(LOG_NAME + ".1"))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    return fd, os.fstat(fd).st_size


def _start_failure(engine_dir: Path, offset: int, code: int | None) -> str:
    path = log_file(engine_dir)
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            tail = handle.read().decode("utf-8", "replace")
    except OSError:
        tail = ""
    lines = [line for line in tail.splitlines() if line.strip()]
    said = [line for line in lines if line.startswith(CHILD_ERROR_PREFIX)]
    head = "The local engine did not start"
    if said:
        return f"{head}: {said[-1][len(CHILD_ERROR_PREFIX) :]}"
    exit_code = f" (exit code {code})" if code else ""
    last = f": {lines[-1]}" if lines else "."
    return f"{head}{exit_code}{last} See {path}."


def _start(
    engine_dir: Path,
    apps_dir: str | None,
    token_delay: float | None,
    deadline: float,
    timeout: float,
) -> LocalEngine:
    engine_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        key = file_key(engine_dir)  # created here (0600) so the engine and its clients share it
    except ServerKeyError as exc:
        raise EngineStartError(str(exc)) from exc
    cmd = [sys.executable, "-m", _MODULE, "--data-dir", str(engine_dir)]
    if apps_dir is not None:
        cmd += ["--apps-dir", apps_dir]
    if token_delay is not None:
        cmd += ["--token-delay", repr(token_delay)]
    idle = idle_seconds_from_env()
    if idle is not None:
        cmd += ["--idle-seconds", repr(idle)]
    env = dict(os.environ)
    env.pop(KEY_ENV, None)  # the local engine's key is the data dir's key file
    log_fd, offset = _open_log(engine_dir)
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log_fd,
            cwd=engine_dir,
            env=env,
            start_new_session=True,  # no terminal signal reaches it; it outlives this process
        )
    except OSError as exc:
        raise EngineStartError(f"Cannot start the local engine: {exc}") from exc
    finally:
        os.close(log_fd)
    # Reaped when it exits while this process lives; afterwards init adopts it.
    threading.Thread(target=proc.wait, name="dusttui-engine-reaper", daemon=True).start()
    while True:
        discovery = read_discovery(engine_dir)
        if discovery is not None and discovery.pid == proc.pid:
            info = _probe(discovery, key, max(0.5, deadline - time.monotonic()))
            if info is not None:
                return _engine(discovery, key, info, started=True)
        if proc.returncode is not None or not _alive(proc.pid):
            time.sleep(0.05)  # the reaper sets the exit code
            raise EngineStartError(_start_failure(engine_dir, offset, proc.returncode))
        if time.monotonic() > deadline:
            with contextlib.suppress(OSError):
                proc.terminate()
            raise EngineStartError(
                f"The local engine did not start within {timeout:g} s (its log: "
                f"{log_file(engine_dir)})."
            )
        time.sleep(0.02)
