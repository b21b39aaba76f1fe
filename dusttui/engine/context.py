"""What a run needs from its surroundings: providers, datasets, cache, sandbox, secrets, network.

The server builds one :class:`EngineContext` and hands it to every run; tests build their own.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from blake3 import blake3

from dusttui.engine import serdejson
from dusttui.engine.js import JSExecutor, JSSettings
from dusttui.engine.providers import ProviderRegistry

BUNDLED_DATASETS_DIR = Path(__file__).parent / "apps" / "datasets"
RUN_OUTPUT_MB = 128  # default of DUSTTUI_RUN_OUTPUT_MB

log = logging.getLogger(__name__)


def run_output_bytes_from_env() -> int:
    """DUSTTUI_RUN_OUTPUT_MB in bytes (a value that is not a positive number keeps the default)."""
    raw = os.environ.get("DUSTTUI_RUN_OUTPUT_MB", "").strip()
    if raw:
        try:
            megabytes = float(raw)
            if megabytes > 0:
                return int(megabytes * 1024 * 1024)
        except ValueError:
            pass
        log.warning("DUSTTUI_RUN_OUTPUT_MB=%r is not a positive number: using the default", raw)
    return RUN_OUTPUT_MB * 1024 * 1024


class LLMCache(Protocol):
    """Where `use_cache` answers come from (llm, chat and curl blocks)."""

    async def get(self, key: str) -> dict[str, Any] | None: ...

    async def put(self, key: str, value: dict[str, Any]) -> None: ...


class MemoryLLMCache:
    """An in-process cache: good for tests and one-off runs (the server passes a SQLite one)."""

    def __init__(self) -> None:
        self._data: dict[str, dict[str, Any]] = {}

    async def get(self, key: str) -> dict[str, Any] | None:
        return self._data.get(key)

    async def put(self, key: str, value: dict[str, Any]) -> None:
        self._data[key] = value

    def __len__(self) -> int:
        return len(self._data)


def dataset_hash(records: Iterable[Any]) -> str:
    """The version hash of a dataset, as core/src/dataset.rs computes it: blake3 over each
    record's `serde_json::to_string` (see :mod:`dusttui.engine.serdejson`)."""
    hasher = blake3()
    for record in records:
        hasher.update(serdejson.to_string(record).encode())
    return hasher.hexdigest()


class DatasetDirs:
    """Datasets stored beside the apps: ``DIR/DATASET_ID.jsonl``, one JSON object per line.

    A ``data`` block names the dataset and its version hash (see :func:`dataset_hash`); the hash
    ``latest`` also matches, for hand-written apps.
    """

    def __init__(self, dirs: Iterable[Path | str]) -> None:
        self.dirs = [Path(d) for d in dirs]

    def load(self, dataset_id: str) -> list[Any] | None:
        """All records of a dataset, or None if no directory has it."""
        if not dataset_id or "/" in dataset_id or "\\" in dataset_id or dataset_id.startswith("."):
            return None
        for d in self.dirs:
            path = d / f"{dataset_id}.jsonl"
            if path.is_file():
                lines = path.read_text(encoding="utf-8").splitlines()
                return [json.loads(line) for line in lines if line.strip()]
        return None

    def __call__(self, dataset_id: str, version: str) -> list[Any] | None:
        records = self.load(dataset_id)
        if records is None:
            return None
        if version in ("latest", dataset_hash(records)):
            return records
        return None


@dataclass
class EngineContext:
    """Everything a run may use besides its spec, config and inputs."""

    providers: ProviderRegistry = field(default_factory=ProviderRegistry.from_env)
    # (dataset_id, hash) -> records, or None when that version is unknown.
    datasets: Callable[[str, str], list[Any] | None] = field(
        default_factory=lambda: DatasetDirs([BUNDLED_DATASETS_DIR])
    )
    # curl blocks make real HTTP requests only when this is true.
    allow_network: bool = False
    # ... and reach a loopback address (127.0.0.0/8, ::1) only when this is true too: core refuses
    # private ranges; tests use it to talk to a local server.
    curl_allow_loopback: bool = False
    cache: LLMCache = field(default_factory=MemoryLLMCache)
    js: JSExecutor | None = None  # the JavaScript sandbox; created on first use when None
    js_settings: JSSettings | None = None  # its settings; None reads DUSTTUI_JS_* at first use
    secrets: dict[str, str] = field(default_factory=dict, repr=False)  # never in logs
    # Seconds between two streamed tokens of the offline provider (0 in tests).
    token_delay: float = 0.02
    http_timeout: float = 30.0
    # JSON bytes the llm, chat, curl and data executions of one run may give together (code has
    # the sandbox's own allowance): the engine's memory per run stays bounded; past it, refused.
    run_output_bytes: int = field(default_factory=run_output_bytes_from_env)

    templates: Any = None  # a dusttui.engine.templates.TemplateRenderer; created on first use

    def template_renderer(self) -> Any:
        """The Tera template renderer (its worker processes start when first needed)."""
        if self.templates is None:
            from dusttui.engine.templates import TemplateRenderer

            self.templates = TemplateRenderer()
        return self.templates

    def executor(self) -> JSExecutor:
        """The JavaScript sandbox (worker processes), created on first use."""
        if self.js is None:
            self.js = JSExecutor(self.js_settings)
        return self.js
