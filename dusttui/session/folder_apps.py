"""The local apps read from their folders, so a front end lists them while the local engine starts.

The local engine serves the ``NAME.dust`` files of the user's apps dir and its bundled demos;
reading the same files here (with the engine's own reader, no engine process, no store) gives the
same apps it will list: names first (a directory listing, before Textual is imported), then the
whole apps (description, spec and its hash or its error, config, sample inputs) in a thread.
Only ``id`` and ``space`` differ until the engine answers (the engine's store numbers apps).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dusttui.engine.appfolder import app_files, app_folders, app_names

if TYPE_CHECKING:
    from dusttui.api.models import App

__all__ = ["app_names", "read_folder_apps"]


def read_folder_apps(apps_dir: Path | None) -> list[App]:
    """The local engine's apps as their files are now, sorted by name (blocking: call it in a
    thread). A ``.dust`` that does not parse is listed with its error, as the engine lists it;
    one that cannot be read is left out, as the engine leaves it out."""
    from dusttui.api.models import App
    from dusttui.engine.appstore import read_app

    apps: list[App] = []
    for name, (dust, source) in app_files(app_folders(apps_dir)).items():
        try:
            loaded = read_app(name, dust, source)
        except (OSError, UnicodeDecodeError):
            continue
        wire = loaded.to_wire({})
        wire["space"] = None  # the engine's answer says which space
        apps.append(App.model_validate(wire))
    return apps
