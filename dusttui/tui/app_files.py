"""An app's files as the main screen uses them: the editors' defaults, the Spec tab's source,
and writing a file whole. No Textual; the readers and writers run in threads.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from dusttui.specs import engine_extension, sample_inputs
from dusttui.tui.validation import saved_config_text

if TYPE_CHECKING:
    from dusttui.api.models import App

__all__ = ["defaults_of", "replace_file", "same_text", "spec_source"]

MAX_SPEC_BYTES = 512 * 1024  # the Spec tab shows this much of a source (a 16 MB file would crawl)


def defaults_of(app: App) -> tuple[str, str]:
    """The editors' text for an app nobody edited: its saved config and sample inputs."""
    sample = sample_inputs(app)
    inputs = json.dumps(sample, indent=2, ensure_ascii=False) if sample else "[]"
    return saved_config_text(app.savedConfig), inputs


def same_text(a: str, b: str) -> bool:
    """Two editor texts that hold the same JSON (a JSON array and its JSON lines are the same
    inputs; indentation does not matter)."""
    if a == b:
        return True

    def value(text: str) -> object:
        try:
            return json.loads(text)
        except ValueError:
            try:
                return [json.loads(line) for line in text.splitlines() if line.strip()]
            except ValueError:
                return text

    return value(a) == value(b)


def spec_source(app: App) -> tuple[str | None, str]:
    """(source, where it comes from) of an app's specification, read now (call in a thread)."""
    ext = engine_extension(app)
    where = ext.get("path")
    if isinstance(where, str) and where.endswith(".dust"):
        shown = f"{Path(where).name}, a bundled demo" if ext.get("source") == "bundled" else where
        try:
            with open(where, encoding="utf-8", errors="replace") as handle:
                text = handle.read(MAX_SPEC_BYTES + 1)
        except OSError as exc:
            return None, f"{shown} cannot be read ({exc.strerror or exc})"
        if len(text) > MAX_SPEC_BYTES:
            return text[:MAX_SPEC_BYTES], f"{shown} (only its first 512 KB shown)"
        return text, shown
    if not app.savedSpecification:
        return None, "This app has no saved specification."
    from dusttui.specs import dust_text_of_builder_blocks

    dumped: str | None = None
    try:
        blocks = json.loads(app.savedSpecification)
        if isinstance(blocks, list):
            dumped = dust_text_of_builder_blocks(blocks)
    except ValueError:
        pass
    if dumped is None:
        return app.savedSpecification, "the saved specification (it has no .dust form here)"
    return dumped, "the saved specification, as .dust"


def replace_file(path: Path, text: str) -> None:
    """Write ``path`` whole (a temporary file renamed over it): the engine may read it any time."""
    fd, tmp = tempfile.mkstemp(prefix=".inputs-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        raise
