"""A JavaScript worker process: runs `_fun(env)` executions, each in a fresh quickjs Context.

The engine (dusttui.engine.jspool) starts it as ``python -P jsworker.py``. It imports only the
standard library, quickjs and orjson, so it starts fast, and a crash in quickjs (a SIGSEGV on a
value nested 10⁵ deep) takes down this process only. Frames (lengths big-endian):

- request, on stdin: ``!I`` header length, the header JSON ``{"code", "sizes", "time", "memory",
  "output"}``, then the env JSON texts of the batch, concatenated (``sizes`` gives their lengths);
- result, one per execution in order, on a private copy of stdout (fd 1 then points at stderr, so
  nothing else writes into the channel): ``!BII`` kind, length a, length b, then a and b.
  OK: a = the value's JSON, b = the logs' JSON. ERROR: a = ``{"code", ...}`` JSON that the engine
  words (dusttui.engine.js.describe_failure). READY once at start; BYE before leaving to be
  replaced (its memory grew), after which the rest of the request is not run. Results of a
  request go out together (see `serve`); which execution runs, since when, is in a shared
  record (see `Progress`) that the engine reads to blame a crash or a timeout on the right one.

Each execution is driven from Python with a few tiny scripts: quickjs compiles slowly (~0.3 µs a
token, ~10 µs a function) and a fresh Context already costs ~120 µs. The value comes back through
the binding or quickjs's own C JSON writer, never through a channel user code could write into.
"""

from __future__ import annotations

import ctypes
import json
import mmap
import os
import re
import resource
import struct
import sys
import threading
import time
from typing import Any

import orjson
import quickjs

OK, ERROR, READY, BYE = 0, 1, 2, 3
RESULT = struct.Struct("!BII")
REQUEST = struct.Struct("!I")
PROGRESS = struct.Struct("=Qd")  # executions started, start of the current one (0: none)
FLUSH_EVERY = 0.02  # seconds: within a long request, results go out at least this often
FLUSH_BYTES = 1 << 20
MAX_STACK = 1024 * 1024  # quickjs's own limit for JavaScript recursion
# The C stack executions run on: quickjs's JSON.stringify recurses without a check and is quadratic
# in depth, so on a value nested 10⁵ deep it crashes; on a small stack it crashes in a moment
# rather than after seconds. Twice MAX_STACK leaves room for what runs below JavaScript.
C_STACK = 2 * MAX_STACK
MAX_DEPTH = 128  # Dust core reads JSON with serde_json, which stops at 128 levels
MAX_ERROR_CHARS = 20_000
RECYCLE_BYTES = 64 * 1024 * 1024  # grown by this much (or a quarter of the limit), start afresh
_FRAME_LINE = re.compile(r"\(<input>:(\d+)\)")
_BARE_LINE = re.compile(r"<input>:(\d+)")

# Core's console: only `log`, each argument one entry (`logs = logs.concat(args)`).
CONSOLE = "var __dust_logs=[];globalThis.console={log(...a){__dust_logs=__dust_logs.concat(a)}}"
CALL = 'typeof _fun!="function"?"nofun":typeof(__dust_r=_fun(__dust_env))'
IS_ASYNC = '_fun.constructor.name=="AsyncFunction"'
AWAIT = (
    "var __dust_s=0;"
    "(async()=>{try{__dust_r=await __dust_r;__dust_s=1}catch(e){__dust_r=e;__dust_s=2}})()"
)

Outcome = tuple[int, bytes, bytes]


def tidy(text: str) -> str:
    """quickjs names every script `<input>`: show user lines as "line N", drop our own frames."""
    text = _FRAME_LINE.sub(r"(line \1)", text).replace(" (<input>)", "")
    text = _BARE_LINE.sub(r"line \1", text)
    lines = [ln.rstrip() for ln in text.split("\n") if ln.strip()]
    return "\n".join(ln for ln in lines if "__dust" not in ln and "<eval>" not in ln)


class Meter:
    """This process's memory: resident now, and its peak since the last `start` (Linux /proc).

    getrusage's peak is no use here: it starts at the engine's size, inherited through exec.
    """

    def __init__(self) -> None:
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._statm = self._open("/proc/self/statm", os.O_RDONLY)
        self._status = self._open("/proc/self/status", os.O_RDONLY)
        self._clear = self._open("/proc/self/clear_refs", os.O_WRONLY)

    @staticmethod
    def _open(path: str, flags: int) -> int | None:
        try:
            return os.open(path, flags)
        except OSError:
            return None

    def rss(self) -> int:
        """Resident bytes now."""
        if self._statm is None:
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return int(os.pread(self._statm, 128, 0).split()[1]) * self._page

    def start(self) -> int:
        """Reset the peak to now (so the next peak is one execution's); resident bytes now."""
        if self._clear is not None:
            try:
                os.write(self._clear, b"5")
            except OSError:
                self._clear = None
        return self.rss()

    def peak(self) -> int:
        """The peak resident bytes since `start`."""
        if self._status is not None and self._clear is not None:
            text = os.pread(self._status, 4096, 0)
            at = text.find(b"VmHWM:")
            if at >= 0:
                return int(text[at + 6 : text.index(b"kB", at)]) * 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


METER = Meter()


def _well_formed(value: Any) -> Any:
    """The value with lone surrogates replaced by U+FFFD, as V8 strings become Rust strings in core."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_well_formed(v) for v in value]
    if isinstance(value, dict):
        return {_well_formed(k): _well_formed(v) for k, v in value.items()}
    return value


def _too_deep(value: Any) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def clean_json(text: str) -> bytes | None:
    """UTF-8 JSON from quickjs's JSON text; None when nested deeper than Dust reads."""
    lone = "\\ud" in text  # quickjs escapes lone surrogates (and only them) as \udxxx
    if not lone and text.count("[") + text.count("{") <= MAX_DEPTH:
        return text.encode()
    try:
        value = json.loads(text)  # the json module keeps lone surrogates; orjson refuses them
    except RecursionError:
        return None
    if isinstance(value, (dict, list)) and _too_deep(value):
        return None
    return orjson.dumps(_well_formed(value)) if lone else text.encode()


def _error(code: str, **data: Any) -> Outcome:
    return ERROR, orjson.dumps({"code": code, **data}), b""


def _cut(text: str) -> str:
    """At most MAX_ERROR_CHARS of the message, then its stack (itself bounded)."""
    head, at, stack = text.partition("\n    at ")
    if len(head) > MAX_ERROR_CHARS:
        head = f"{head[:MAX_ERROR_CHARS]}… ({len(head) - MAX_ERROR_CHARS} more characters)"
    return head + at + stack[:MAX_ERROR_CHARS]


def _thrown(text: str) -> str | None:
    """The binding's text of a thrown value (`String(e)`, newline, `String(e.stack)`), as shown."""
    if text.startswith("(Failed obtaining QuickJS error string"):
        return None  # its toString threw
    if text.endswith("\nundefined"):  # not an Error: no stack
        text = "Uncaught " + text[: -len("\nundefined")]
    elif text.endswith("\n") and "\n" not in text[:-1]:  # null, undefined
        text = "Uncaught " + text[:-1]
    return tidy(_cut(text))


def _classify(text: str, stage: str, rss_before: int, memory_limit: int) -> Outcome:
    """Word a quickjs exception raised at `stage`: code, call, value or logs."""
    if text.startswith("InternalError: interrupted"):
        return _error("time")
    if text.startswith("InternalError: stack overflow"):
        return _error("stack")
    if text.startswith("InternalError: out of memory"):
        return _error("memory")
    # Out of memory, quickjs may not even build an Error and throws `null`; a user's `throw null`
    # reads the same, so tell them apart by how much this execution made the process grow.
    if text == "null\n" and METER.peak() - rss_before >= memory_limit // 2:
        return _error("memory")
    if stage == "code":
        return _error(
            "js", text=_thrown(text) if text.endswith("\nundefined") else tidy(_cut(text))
        )
    if stage == "call":
        return _error("throw", text=_thrown(text))
    return _error(stage, text=_cut(text.split("\n", 1)[0]))


def _unbox(ctx: Any, name: str) -> str:
    """JSON of a global through a one-element array (any value gets through the C writer)."""
    text = str(ctx.eval(f"[{name}]").json())
    try:
        box = json.loads(text) if "\\ud" in text else orjson.loads(text)
    except ValueError:
        box = None
    if not (isinstance(box, list) and len(box) == 1):  # user code gave arrays a toJSON
        raise quickjs.JSException("TypeError: the code gave arrays a toJSON method")
    return orjson.dumps(_well_formed(box[0])).decode()


def _value_json(ctx: Any, kind: str) -> str | Outcome:
    """The returned value (its `typeof` is `kind`) as JSON text, or the error to report.

    Objects go through quickjs's own C JSON writer (toJSON honoured, nothing user code can
    replace); it does not watch the clock, the engine's wall-clock kill does.
    """
    if kind == "undefined":
        return "null"
    if kind in ("function", "symbol"):
        return _error("type", type=kind)
    if kind == "bigint":
        return _error("value", text="TypeError: a BigInt cannot be written as JSON")
    try:
        value = ctx.get("__dust_r")
    except UnicodeDecodeError:  # a string with a lone surrogate: let quickjs escape it
        return _unbox(ctx, "__dust_r")
    if isinstance(value, quickjs.Object):
        return str(value.json())
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return "null"  # as JSON.stringify
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))  # as JavaScript prints it
    return orjson.dumps(value).decode()


def _settle(ctx: Any, start: float, time_limit: float) -> int:
    """Await the Promise an async `_fun` returned: 1 fulfilled, 2 rejected, 0 never settled."""
    ctx.eval(AWAIT)
    jobs = 0
    while ctx.execute_pending_job():
        jobs += 1
        if jobs % 64 == 0:
            if time.monotonic() - start > time_limit:  # each job restarts quickjs's own clock
                raise quickjs.JSException("InternalError: interrupted")
            if ctx.get("__dust_s"):
                break
    return int(ctx.get("__dust_s"))


def execute(
    code: str,
    env_text: str,
    time_limit: float,
    memory_limit: int,
    max_output: int,
    *,
    measured: bool = False,
) -> Outcome:
    """Run one execution in a fresh Context: (kind, a, b) as sent in a result frame.

    An execution that throws `null` runs once more, `measured`, to tell a user's `throw null`
    from quickjs running out of memory (see `_classify`); measuring every one costs ~3 µs.
    """
    rss_before = METER.start() if measured else 0
    ctx = quickjs.Context()
    ctx.set_memory_limit(memory_limit)
    ctx.set_max_stack_size(MAX_STACK)
    ctx.set_time_limit(time_limit)
    start = time.monotonic()
    logs = "console" in code  # core's console is a script constant: no other way to reach it
    stage = "code"
    try:
        if logs:
            ctx.eval(CONSOLE)
        ctx.eval(code)
        ctx.set("__dust_env", ctx.parse_json(env_text))
        ctx.set_time_limit(max(0.001, time_limit - (time.monotonic() - start)))
        stage = "call"
        kind = ctx.eval(CALL)
        if kind == "nofun":
            return _error("nofun")
        if kind == "object" and ctx.eval(IS_ASYNC) is True:
            settled = _settle(ctx, start, time_limit)
            if settled == 0:
                return _error("unsettled")
            if settled == 2:
                ctx.eval("throw __dust_r")
            kind = ctx.eval("typeof __dust_r")
        stage = "value"
        value = _value_json(ctx, kind)
        if not isinstance(value, str):
            return value
        stage = "logs"
        log_text = _unbox(ctx, "__dust_logs") if logs else "[]"
    except quickjs.JSException as exc:  # StackOverflow is one too
        text = str(exc)
        if text != "null\n" or measured:
            return _classify(text, stage, rss_before, memory_limit)
    except UnicodeDecodeError:  # an error text quickjs could not hand over
        return _error("throw" if stage == "call" else stage, text=None)
    else:
        return _outcome(value, log_text, max_output)
    del ctx  # its memory goes back before the measured run
    return execute(code, env_text, time_limit, memory_limit, max_output, measured=True)


def _outcome(value_text: str, logs_text: str, max_output: int) -> Outcome:
    value, logs = clean_json(value_text), clean_json(logs_text)
    if value is None:
        return _error("depth", what="value")
    if logs is None:
        return _error("depth", what="logs")
    if len(value) + len(logs) > max_output:
        return _error("output", size=len(value) + len(logs))
    return OK, value, logs


def _die_with_parent() -> None:
    # A worker stuck in native code (a catastrophic regex) must not outlive a killed engine.
    try:
        ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):
        pass


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Progress:
    """The record the engine reads to know which execution runs since when (shared memory).

    `seq` counts the executions this worker started; `start` is when the current one started
    (time.monotonic, the same clock in every process), 0 between executions. `start` is written
    before `seq`, and the engine reads `seq` twice around `start`, so it never mixes two records.
    """

    def __init__(self, fd: int) -> None:
        self.map = mmap.mmap(fd, PROGRESS.size)
        self.seq = 0

    def begin(self) -> None:
        """An execution starts."""
        self.seq += 1
        PROGRESS.pack_into(self.map, 0, self.seq, time.monotonic())

    def end(self) -> None:
        """The current execution ended (its result is about to be written)."""
        PROGRESS.pack_into(self.map, 0, self.seq, 0.0)


def serve(out: int, progress: Progress) -> None:
    """Run requests from stdin until it closes (or until this process should be replaced).

    Results are written when a request is done, or every FLUSH_EVERY seconds within a long one:
    the engine wakes once per batch, not once per execution (the record says where we are).
    """
    stdin = sys.stdin.buffer
    _write(out, RESULT.pack(READY, 0, 0))
    base = METER.rss()
    pending = bytearray()
    while True:
        head = stdin.read(REQUEST.size)
        if len(head) < REQUEST.size:
            return
        header = orjson.loads(stdin.read(REQUEST.unpack(head)[0]))
        blob = stdin.read(sum(header["sizes"]))
        memory = header["memory"]
        offset = 0
        flushed = time.monotonic()
        for number, size in enumerate(header["sizes"]):
            if number % 8 == 0 and METER.rss() - base > max(memory // 4, RECYCLE_BYTES):
                _write(out, bytes(pending) + RESULT.pack(BYE, 0, 0))  # give the memory back
                return
            env_text = blob[offset : offset + size].decode()
            offset += size
            progress.begin()
            kind, a, b = execute(header["code"], env_text, header["time"], memory, header["output"])
            progress.end()
            pending += RESULT.pack(kind, len(a), len(b))
            pending += a
            pending += b
            if len(pending) > FLUSH_BYTES or time.monotonic() - flushed > FLUSH_EVERY:
                _write(out, bytes(pending))
                pending.clear()
                flushed = time.monotonic()
        if pending:
            _write(out, bytes(pending))
            pending.clear()


def main() -> None:
    """Serve until stdin closes, on a thread with a small C stack (see C_STACK).

    argv[1]: the file descriptor of the shared progress record (see Progress).
    """
    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:
        return
    progress = Progress(int(sys.argv[1]))
    out = os.dup(1)
    os.dup2(2, 1)
    threading.stack_size(C_STACK)
    worker = threading.Thread(target=serve, args=(out, progress), name="dusttui-js")
    worker.start()
    worker.join()


if __name__ == "__main__":
    main()
