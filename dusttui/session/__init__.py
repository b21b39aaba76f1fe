"""The run session: everything between a front end and the Dust runs API.

``backend`` opens a backend (a remote workspace, or the local engine and its life), ``runs``
follows runs (:class:`~dusttui.session.runs.RunSession`: launch, follow, journal, cancel, end
reasons), ``ends`` names how a run ended, ``tracked`` is what the front ends read of a run.
No Textual anywhere here: the CLI and the TUI both consume it.
"""

from dusttui.session.backend import (
    ENGINE_THREAD_ENV,
    Connector,
    client_for,
    engine_data_dir,
    engine_in_thread,
    make_engine,
    open_client,
)

__all__ = [
    "ENGINE_THREAD_ENV",
    "Connector",
    "client_for",
    "engine_data_dir",
    "engine_in_thread",
    "make_engine",
    "open_client",
]
