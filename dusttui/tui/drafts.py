"""Edited config and inputs, kept per app between sessions (``<data dir>/drafts.json``).

What a user types in the Config and Inputs tabs survives a restart: the App reads this file in a
thread at start and writes it (atomically, 0600) in a thread when a draft changes. A draft equal
to the app's saved config and sample inputs is not kept. No Textual here.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Draft", "DraftStore", "backend_key"]

VERSION = 1


@dataclass
class Draft:
    """What the user prepared for one app."""

    config: str
    inputs: str
    hash_choice: str = ""  # "" = the saved specification (else latest), "latest", or a hash
    saved_at: float = 0.0  # when it was last written (seconds since the epoch)


def backend_key(base_url: str | None, workspace_id: str) -> str:
    """Drafts are per backend: the same app sId on two workspaces is two apps."""
    return f"{base_url or 'local'}|{workspace_id}"


class DraftStore:
    """The drafts file: ``{"version": 1, "drafts": {backend: {app sId: Draft}}}``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, backend: str) -> dict[str, Draft]:
        """This backend's drafts (a missing or unreadable file is no drafts: never fatal)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        section = data.get("drafts", {}).get(backend, {}) if isinstance(data, dict) else {}
        drafts: dict[str, Draft] = {}
        for sid, item in section.items() if isinstance(section, dict) else ():
            try:
                drafts[sid] = Draft(
                    config=str(item["config"]),
                    inputs=str(item["inputs"]),
                    hash_choice=str(item.get("hash_choice", "")),
                    saved_at=float(item.get("saved_at", 0.0)),
                )
            except (KeyError, TypeError, ValueError):
                continue
        return drafts

    def save(self, backend: str, drafts: dict[str, Draft | None]) -> None:
        """Write these drafts of a backend (None removes one), keeping every other entry."""
        try:
            data: Any = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict) or not isinstance(data.get("drafts"), dict):
            data = {"version": VERSION, "drafts": {}}
        section = data["drafts"].setdefault(backend, {})
        now = time.time()
        for sid, draft in drafts.items():
            if draft is None:
                section.pop(sid, None)
            else:
                draft.saved_at = now
                section[sid] = asdict(draft)
        if not section:
            data["drafts"].pop(backend, None)
        _write_private(self.path, json.dumps(data, indent=1, ensure_ascii=False))


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text``, readable by the user only (it may hold inputs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".drafts-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
