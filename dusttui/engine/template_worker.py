"""A template worker process: renders Tera templates (the `pytera` binding of Tera 1.20) for the
engine, one request at a time, under a memory limit.

Run as a script by :mod:`dusttui.engine.template_pool` (``python -I template_worker.py DIR MB PID``,
an empty environment, so Tera's `get_env` reads nothing of the engine's). It imports only the
standard library and pytera. Frames on stdin/stdout: 4-byte big-endian length, then UTF-8 JSON.

Request ``{"t": template, "c": context, "m": max_chars, "o": original or null}``; answer
``{"ok": text}``, ``{"error": tera's message}`` (the first cause, as core shows it),
``{"limit": chars}`` or ``{"memory": true}``. It exits when stdin closes or after `IDLE` seconds
without a request.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import shutil
import struct
import sys
from collections import OrderedDict
from typing import Any

from pytera import PyTera  # type: ignore[import-untyped, unused-ignore]

NAME = "__tera_one_off"  # the name core's Tera::one_off gives its template
CACHE_SIZE = 256
IDLE = 60.0


class Templates:
    """Parsed templates by text, each in its own folder (pytera loads templates by file glob)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.count = 0
        self.cache: OrderedDict[str, Any] = OrderedDict()

    def get(self, text: str) -> Any:
        """The parsed template; RuntimeError (Tera's parse error) when it does not parse."""
        entry = self.cache.get(text)
        if entry is not None:
            self.cache.move_to_end(text)
            return entry[0]
        self.count += 1
        folder = os.path.join(self.base, str(self.count))
        os.mkdir(folder)
        with open(os.path.join(folder, NAME), "w", encoding="utf-8", newline="") as f:
            f.write(text)
        try:
            tera = PyTera(folder + "/*")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self.cache[text] = (tera, folder)
        if len(self.cache) > CACHE_SIZE:
            _, (_, old) = self.cache.popitem(last=False)
            shutil.rmtree(old, ignore_errors=True)
        return tera


def parse_error(message: str) -> str:
    """Tera's parse error as core shows it: the pest text, without the `* Failed to parse` line."""
    lines = message.split("\n")
    while lines and (not lines[0].strip() or lines[0].startswith("* Failed to parse")):
        lines.pop(0)
    return "\n".join(lines)


def render_error(message: str) -> str:
    """The first cause of a render error (core prints `e.source()`, not the whole chain)."""
    _, sep, cause = message.partition(" | caused by: ")
    if not sep:
        return message
    return cause.split(" -> ")[0]


def handle(templates: Templates, request: dict[str, Any]) -> dict[str, Any]:
    """One render request → its answer."""
    try:
        tera = templates.get(request["t"])
    except RuntimeError as exc:
        original = request.get("o")
        if original is not None:  # report the error on the text the user wrote
            try:
                templates.get(original)
            except RuntimeError as exc2:
                return {"error": parse_error(str(exc2))}
        return {"error": parse_error(str(exc))}
    try:
        out = tera.render_template(NAME, **request["c"])
    except MemoryError:
        return {"memory": True}
    except Exception as exc:  # pytera's render exception (Tera's chain in one string)
        return {"error": render_error(str(exc))}
    if len(out) > request["m"]:
        return {"limit": len(out)}
    return {"ok": out}


def read_exact(fd: int, size: int) -> bytes | None:
    """`size` bytes from `fd` (unbuffered, so `select` sees all that is pending), None at EOF."""
    chunks, missing = [], size
    while missing:
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of `data` to `fd`."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def die_with_parent() -> None:
    """Linux: be killed when the engine dies, even in the middle of a long render."""
    try:
        ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):
        pass


def main() -> None:
    """Serve requests on stdin until it closes or stays idle."""
    base, megabytes, parent = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    die_with_parent()
    if os.getppid() != parent:  # the engine died before the line above could take effect
        shutil.rmtree(base, ignore_errors=True)
        return
    if megabytes > 0:
        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.makedirs(base, exist_ok=True)
    templates = Templates(base)
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    while True:
        ready, _, _ = select.select([stdin], [], [], IDLE)
        if not ready:
            break  # idle: the engine starts a new worker when it needs one
        head = read_exact(stdin, 4)
        payload = None if head is None else read_exact(stdin, struct.unpack(">I", head)[0])
        if payload is None:
            break
        try:
            answer = handle(templates, json.loads(payload))
        except MemoryError:
            answer = {"memory": True}
        data = json.dumps(answer, ensure_ascii=False).encode("utf-8", "surrogatepass")
        write_all(stdout, struct.pack(">I", len(data)) + data)
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
