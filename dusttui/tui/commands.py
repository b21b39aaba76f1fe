"""Command palette providers (ctrl+p): switch app, launch, open a run, switch theme."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher
from textual.markup import escape

if TYPE_CHECKING:
    from dusttui.tui.app import DustApp

Command = tuple[str, str, Callable[[], object]]


class DustCommands(Provider):
    """The app's own commands; top actions are offered before anything is typed."""

    @property
    def dust(self) -> DustApp:
        return self.app  # type: ignore[return-value]

    def _commands(self) -> list[Command]:
        from dusttui.tui.screens.main import MainScreen

        dust = self.dust
        main = self.screen if isinstance(self.screen, MainScreen) else None
        commands: list[Command] = []
        if main is not None:  # the main screen's own actions, asked of it
            commands += [
                (
                    "Launch a run",
                    "Run the selected app with this config and inputs",
                    main.action_launch,
                ),
                ("Re-run the shown run", "Same hash, config and inputs", main.action_rerun),
                (
                    "Copy the launch as curl",
                    "The run request for a script; the key reads $DUST_API_KEY",
                    main.action_copy_curl,
                ),
                ("Open the trace explorer", "Every block, input and iteration", main.action_traces),
                ("Cancel the shown run", "Asks first", main.action_cancel),
            ]
        for mode in ("stream", "poll", "blocking"):
            commands.append(
                (
                    f"Launch mode: {mode}",
                    "How the next runs are watched",
                    partial(dust.set_mode, mode),
                )
            )
        for app in dust.apps if main is not None else ():
            commands.append(
                (
                    f"Switch app: {app.name}",
                    app.description or app.sId,
                    partial(main.pick_app, app.sId),  # type: ignore[union-attr]
                )
            )
        for key, label in dust.run_labels() if main is not None else ():
            commands.append(
                (
                    f"Open run: {label}",
                    "Show it in the run pane",
                    partial(main.open_run, key),  # type: ignore[union-attr]
                )
            )
        for name in sorted(dust.available_themes):
            commands.append(
                (f"Switch theme: {name}", "Colours of the whole app", partial(dust.set_theme, name))
            )
        return commands

    async def discover(self) -> Hits:
        """The top actions, before anything is typed."""
        for title, help_text, callback in self._commands()[:6]:
            yield DiscoveryHit(Content(title), callback, text=title, help=escape(help_text))

    async def search(self, query: str) -> Hits:
        """Every command whose title matches ``query``."""
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score, _highlight(matcher, title), callback, text=title, help=escape(help_text)
                )


def _highlight(matcher: Matcher, title: str) -> Content:
    """Like ``Matcher.highlight`` but never reads the title as markup (app names are user text)."""
    content = Content(title)
    score, offsets = matcher.fuzzy_search.match(matcher.query, title)
    if not score:
        return content
    for offset in offsets:
        if not title[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content
