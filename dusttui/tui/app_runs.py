"""Runs in the App: launching, watching (coalesced repaints), the journal, reopening.

A mixin of :class:`dusttui.tui.app.DustApp`: the same object holds the client, the settings and
the runs; this module only keeps the run-related half of it apart.
"""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work

from dusttui.api.errors import DustError
from dusttui.tui.messages import RunsChanged, RunUpdated
from dusttui.tui.runs import LiveRun, short_id

if TYPE_CHECKING:
    from dusttui.api.journal import JournalEntry
    from dusttui.api.models import App as DustAppModel

UPDATE_INTERVAL = 0.033  # at most ~30 repaints of a run per second, whatever the event rate
YIELD_EVERY = 32  # stream updates handled between two turns of the event loop, at most
GLYPH = {"running": "●", "succeeded": "✓", "errored": "✗"}
LABEL_WIDTH = 31


class RunsMixin:
    """Launch, watch, record and reopen runs (mixed into the App)."""

    def launch_run(
        self,
        app: DustAppModel,
        spec_hash: str,
        config: dict[str, Any],
        inputs: list[Any],
        mode: str,
    ) -> LiveRun:
        """Start watching a new run (several can run at once)."""
        self._counter += 1
        live = LiveRun(
            key=f"live-{self._counter}",
            app_id=app.sId,
            app_name=app.name,
            mode=mode,
            started=self.clock(),
            specification_hash=spec_hash,
            config=config,
            inputs=inputs,
        )
        self.runs[live.key] = live
        self.run_worker(
            self._watch(live, request=(spec_hash, config, inputs)),
            name=f"run {live.key}",
            group="runs",
            exit_on_error=False,
        )
        self.post_message(RunsChanged())
        return live

    def rerun(self, key: str) -> LiveRun | None:
        """Launch a run again with the same app, hash, config and inputs."""
        live = self.runs.get(key)
        if live is None or not live.can_rerun:
            self.say(
                "This run cannot be re-run: its config or inputs are unknown.", severity="warning"
            )
            return None
        app = next((a for a in self.apps if a.sId == live.app_id), None)
        if app is None:
            from dusttui.api.models import App as DustAppModel

            app = DustAppModel(id=0, sId=live.app_id, name=live.app_name)
        assert live.specification_hash is not None and live.config is not None
        return self.launch_run(
            app, live.specification_hash, live.config, live.inputs or [], self.mode
        )

    async def _watch(
        self,
        live: LiveRun,
        *,
        request: tuple[str, dict, list] | None = None,
        run_id: str | None = None,
    ) -> None:
        from dusttui.api.watch import watch_run

        await self._client_ready.wait()
        recorded = live.opened
        try:
            from dusttui.api.state import RunState

            kwargs: dict[str, Any] = {"mode": live.mode}
            if request is not None:
                kwargs["request"] = request
                spec = None if request[0] == "latest" else request[0]
                kwargs["state"] = RunState(
                    specification_hash=spec, config=request[1], clock=self.clock
                )
            else:
                kwargs["run_id"] = run_id
                kwargs["state"] = live.state
            count = 0
            async for update in watch_run(self.client, live.app_id, **kwargs):
                count += 1
                if count % YIELD_EVERY == 0:
                    # Events already buffered arrive without a pause: let keys and frames in.
                    await asyncio.sleep(0)
                live.state = update.state
                live.connection = str(update.connection)
                if not recorded and live.run_id is not None:
                    recorded = True
                    self._journal_launch(live)
                self._poke(live.key)
        except DustError as exc:
            live.failure = exc.user_message
        finally:
            live.finished = self.clock()
            live.connection = "done"
            self._journal_final(live)
            self._pending.discard(live.key)
            self.post_message(RunUpdated(live.key))
            self.post_message(RunsChanged())
        self._announce_end(live)

    def _poke(self, key: str) -> None:
        """Coalesce: at most one repaint of a run per UPDATE_INTERVAL, the latest state wins."""
        if key in self._pending:
            return
        wait = self._last_post.get(key, 0.0) + UPDATE_INTERVAL - time.monotonic()
        if wait <= 0:
            self._post_update(key)
        else:
            self._pending.add(key)
            self.set_timer(wait, partial(self._post_update, key))

    def _post_update(self, key: str) -> None:
        self._pending.discard(key)
        self._last_post[key] = time.monotonic()
        self.post_message(RunUpdated(key))

    def on_run_updated(self, message: RunUpdated) -> None:
        live = self.runs.get(message.key)
        if live is not None:
            self.main.refresh_run(live)

    def on_runs_changed(self, message: RunsChanged) -> None:
        self.main.show_runs_list(self.run_labels_text())

    def _announce_end(self, live: LiveRun) -> None:
        status = live.status
        severity = "information" if status == "succeeded" else "error"
        detail = f": {live.failure}" if live.failure else ""
        self.say(
            f"Run {short_id(live.run_id)} of {live.app_name} {status}{detail}", severity=severity
        )
        if self.settings.bell:
            self.bell()

    # ------------------------------------------------------------------ journal

    def _journal_launch(self, live: LiveRun) -> None:
        if self.journal is None or live.run_id is None:
            return
        self.journal.record_launch(
            run_id=live.run_id,
            workspace_id=self.backend.workspace_id,
            app_id=live.app_id,
            app_name=live.app_name,
            profile=self.backend.profile,
            base_url=self.backend.base_url,
            space_id=self.backend.space_id,
            specification_hash=live.specification_hash,
            mode=live.mode,
            config=live.config,
            inputs=live.inputs,
        )

    def _journal_final(self, live: LiveRun) -> None:
        state = live.state
        if self.journal is None or state is None or state.run_id is None:
            return
        if state.status in ("succeeded", "errored"):
            self.journal.record_final(state.run_id, state.to_wire())

    def _load_history(self) -> None:
        if self.journal is None:
            return
        entries = self.journal.list_entries(200)
        self._history = [
            e
            for e in entries
            if e.workspace_id == self.backend.workspace_id and e.base_url == self.backend.base_url
        ]
        self.post_message(RunsChanged())

    def run_labels(self) -> list[tuple[str, str]]:
        """(key, plain label) of every run in the runs list, newest first."""
        return [(key, text.plain) for key, text in self.run_labels_text()]

    def run_labels_text(self) -> list[tuple[str, Text]]:
        """The runs list: this session's runs, then the journal's, newest first."""
        colours = self.theme_variables
        items: list[tuple[str, Text]] = []
        live_ids = set()
        for live in reversed(self.runs.values()):
            live_ids.add(live.run_id)
            items.append(
                (
                    live.key,
                    _run_label(live.run_id, live.status, live.started, live.app_name, colours),
                )
            )
        for entry in self._history:
            if entry.run_id in live_ids:
                continue
            items.append(
                (
                    f"j:{entry.run_id}",
                    _run_label(
                        entry.run_id,
                        entry.status or "running",
                        entry.recorded_at,
                        entry.app_name or entry.app_id,
                        colours,
                    ),
                )
            )
        return items

    def choose_run(self, key: str, open_it: bool = True) -> None:
        """Show a run of this session, or (on enter) open a journal entry by GET."""
        if key in self.runs:
            self.main.show_run(self.runs[key])
            return
        if not open_it or not key.startswith("j:"):
            return
        run_id = key[2:]
        entry = next((e for e in self._history if e.run_id == run_id), None)
        if entry is not None:
            self._open_entry(entry)

    @work(name="open run", exclusive=True, exit_on_error=False, group="open")
    async def _open_entry(self, entry: JournalEntry) -> None:
        from dusttui.api.state import RunState

        await self._client_ready.wait()
        assert self.client is not None
        self._counter += 1
        live = LiveRun(
            key=f"live-{self._counter}",
            app_id=entry.app_id,
            app_name=entry.app_name or entry.app_id,
            mode=entry.mode or "stream",
            started=entry.recorded_at,
            specification_hash=entry.specification_hash,
            config=entry.config,
            inputs=entry.inputs,
            opened=True,
        )
        raw = await self.client.get_run_raw(entry.app_id, entry.run_id)
        live.state = RunState.from_run_json(raw, clock=self.clock)
        live.connection = "done"
        self.runs[live.key] = live
        self._history = [e for e in self._history if e.run_id != entry.run_id]
        if live.state.status == "running":
            live.mode = "poll"
            self.run_worker(
                self._watch(live, run_id=entry.run_id),
                name=f"run {live.key}",
                group="runs",
                exit_on_error=False,
            )
        else:
            live.finished = live.started
            self._journal_final(live)
        self.post_message(RunsChanged())
        self.main.show_run(live)


def _run_label(
    run_id: str | None, status: str, when: float, app_name: str, colours: dict[str, str]
) -> Text:
    """`✓ 5be2f4 12:01 qa-demo` on one line (the app name is cut to fit)."""
    label = Text(no_wrap=True, overflow="ellipsis")
    label.append(
        GLYPH.get(status, "✗"),
        style=colours.get(f"block-{status}", colours.get("block-errored", "")),
    )
    label.append(f" {run_id[:6] if run_id else '……'} ")
    label.append(time.strftime("%H:%M ", time.localtime(when)), style="dim")
    label.append(app_name)
    label.truncate(LABEL_WIDTH, overflow="ellipsis")  # one line each in the narrow runs list
    return label
