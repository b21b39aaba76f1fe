"""Template rendering: real Tera (pytera) as the engine uses it vs the former Jinja2 emulation.

    python bench/engine_templates.py [--seconds 1.5]

Side by side in one process, renders per second of three templates over the same state:
- `path`: "Q: {{INPUT.question}}\\nA: ${PREP.hint}" (the common prompt: in-process fast path);
- `loop`: a for loop with a filter (rendered in a worker process, under limits);
- `plain`: text and `${BLOCK.key}` only (no Tera at all).
Columns: the Jinja2 emulation (frozen copy in bench/templates_jinja_emulation.py), bare pytera
(one cached template, in-process, no limits), the engine's renderer awaited one at a time, and
the renderer with 32 renders in flight (as an llm block's concurrency). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import templates_jinja_emulation as jinja  # noqa: E402
from pytera import PyTera  # noqa: E402

from dusttui.engine.templates import TemplateRenderer  # noqa: E402

STATE = {
    "INPUT": {"question": "Why is the sky blue?", "n": 3},
    "PREP": {"hint": "think about scattering", "items": ["a", "b", "c", "d"]},
    "REVIEWS": [{"text": f"review {i}", "stars": i % 5} for i in range(20)],
}
TEMPLATES = {
    "path": "Q: {{INPUT.question}}\nA: ${PREP.hint}",
    "loop": "{% for r in REVIEWS %}{% if r.stars > 2 %}{{ r.text | upper }}\n{% endif %}{% endfor %}",
    "plain": "Answer the question. Hint: ${PREP.hint}",
}


def rate_sync(fn: Callable[[], object], seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(50):
            fn()
        n += 50
    return n / (time.perf_counter() - start)


async def rate_async(fn: Callable[[], Awaitable[object]], seconds: float, inflight: int) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        await asyncio.gather(*(fn() for _ in range(inflight)))
        n += inflight
    return n / (time.perf_counter() - start)


def bare_pytera(template: str) -> Callable[[], object]:
    folder = tempfile.mkdtemp(prefix="bench-tera-")
    with open(os.path.join(folder, "__tera_one_off"), "w") as f:
        f.write(template)
    tera = PyTera(folder + "/*")
    return lambda: tera.render_template("__tera_one_off", **STATE)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.5)
    args = parser.parse_args()
    renderer = TemplateRenderer()
    rows = []
    for name, template in TEMPLATES.items():
        expected = await renderer.render(template, STATE)
        emulated = jinja.render(template, STATE)
        same = "same" if emulated == expected else "differs"
        emulation = rate_sync(lambda t=template: jinja.render(t, STATE), args.seconds)
        bare = rate_sync(bare_pytera(template), args.seconds)
        one = await rate_async(lambda t=template: renderer.render(t, STATE), args.seconds, 1)
        many = await rate_async(lambda t=template: renderer.render(t, STATE), args.seconds, 32)
        rows.append((name, emulation, bare, one, many, same))
    await renderer.aclose()
    load = os.getloadavg()[0]
    print(f"Command: `python bench/engine_templates.py --seconds {args.seconds:g}`")
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, load average {load:.2f} at the end."
    )
    print()
    print(
        "| template | Jinja2 emulation | bare pytera | engine, 1 at a time | engine, 32 in flight "
        "| engine ÷ emulation (32) | emulation's output |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, emulation, bare, one, many, same in rows:
        print(
            f"| `{name}` | {emulation:,.0f}/s | {bare:,.0f}/s | {one:,.0f}/s | {many:,.0f}/s "
            f"| {many / emulation:.2f} | {same} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
