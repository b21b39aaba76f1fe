"""Which apps a folder holds: one ``NAME.dust`` per app, the user's apps dir before the demos.

The engine's :class:`~dusttui.engine.appstore.AppStore` and the front ends (listing the local apps
while the local engine starts) both list apps this way, so they agree on the names. Standard library
only: the TUI calls it before importing Textual.
"""

from __future__ import annotations

from pathlib import Path

BUNDLED_APPS_DIR = Path(__file__).parent / "apps"
SUFFIX = ".dust"


def app_folders(apps_dir: Path | None, *, bundled: bool = True) -> list[tuple[Path, str]]:
    """The folders apps come from, strongest first, each with its source name."""
    folders: list[tuple[Path, str]] = []
    if apps_dir is not None:
        folders.append((Path(apps_dir), "apps_dir"))
    if bundled:
        folders.append((BUNDLED_APPS_DIR, "bundled"))
    return folders


def app_files(folders: list[tuple[Path, str]]) -> dict[str, tuple[Path, str]]:
    """NAME → (its ``.dust`` file, source), sorted by name; a name's strongest folder wins."""
    found: dict[str, tuple[Path, str]] = {}
    for folder, source in folders:
        if not folder.is_dir():
            continue
        for dust in sorted(folder.glob("*" + SUFFIX)):
            found.setdefault(dust.name[: -len(SUFFIX)], (dust, source))
    return dict(sorted(found.items()))


def app_names(apps_dir: Path | None) -> list[str]:
    """The local engine's app names, sorted, read from the folders alone (a directory listing)."""
    return list(app_files(app_folders(apps_dir)))
