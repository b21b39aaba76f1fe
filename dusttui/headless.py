"""The headless commands: the same run session as the TUI, without a screen.

stdout carries only what ``--json``/``--jsonl`` promise (or the readable summary); progress goes to
stderr, and only when stderr is a terminal — except the run id, said as soon as it is known, and
every error.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from dusttui.api.errors import AuthError, DustError, DustTimeoutError, RunError
from dusttui.api.inputs import (
    LOCAL_ENGINE_PROVIDER_IDS,
    InputError,
    blocks_of_saved_specification,
    check_body_size,
    check_config,
    check_inputs,
    inputs_format_for,
    parse_inputs,
    parse_json,
)
from dusttui.api.models import App, to_wire
from dusttui.config import Backend, ConfigError, Settings
from dusttui.exitcodes import (
    EXIT_API,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_USAGE,
)
from dusttui.output import Printer, apps_lines, emit_json, err, plural, progress, report
from dusttui.runref import resolve_run_ref
from dusttui.session.ends import EndReason, end_of
from dusttui.session.runs import NoCancel, resume_command

if TYPE_CHECKING:
    from dusttui.api.client import DustClient
    from dusttui.session.backend import Connector
    from dusttui.session.runs import RunSession
    from dusttui.session.tracked import TrackedRun

# Run errors that are the caller's to fix (a bad hash, bad inputs): usage errors, not API failures.
_USAGE_RUN_CODES = {
    "specification_not_found",
    "invalid_specification_error",
    "invalid_inputs_error",
    "dataset_not_found",
    "dataset_empty_error",
    "run_not_found",
}


class WatchStopped(Exception):
    """The command stopped before the run's end (Ctrl-C, --timeout): what to say, and the code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message, self.code = message, code


@dataclass
class _Watching:
    """What a command is following, for the message of an interruption."""

    app: str
    connector: Connector | None = None
    run: TrackedRun | None = None

    def stopped(self, what: str) -> str:
        run = self.run
        if run is None or run.run_id is None:
            if run is not None and run.mode == "blocking":
                return f"{what}. The run was sent (blocking mode) before its id was known."
            return f"{what} before the run started."
        if run.end is not None and not run.end.run_goes_on:
            return f"{what}: the run had ended ({run.status})."
        if self.connector is not None and not self.connector.outlives_front_end:
            return (
                f"{what}. The local engine stops with this command, and run {run.run_id} with "
                f"it (it will read interrupted): dusttui get {run.run_id} --app {self.app}"
            )
        return f"{what}. The run goes on: {resume_command(run)}"


def run_guarded(
    func: Callable[..., int], settings: Settings, backend: Backend, **kwargs: Any
) -> int:
    """Run a command; turn every failure into its message on stderr and its exit code."""
    from dusttui.engine.process import EngineStartError

    try:
        return func(settings, backend, **kwargs)
    except WatchStopped as stop:
        err(stop.message)
        return stop.code
    except KeyboardInterrupt:
        err("Interrupted.")
        return EXIT_INTERRUPTED
    except (InputError, ConfigError, NoCancel) as exc:
        err(str(exc))
        return EXIT_USAGE
    except RunError as exc:
        err(exc.user_message)
        return EXIT_USAGE if exc.code in _USAGE_RUN_CODES else EXIT_API
    except AuthError as exc:
        err(auth_message(exc, backend))
        return EXIT_API
    except DustTimeoutError as exc:
        err(exc.user_message)
        return EXIT_TIMEOUT
    except DustError as exc:
        err(exc.user_message)
        return EXIT_API
    except EngineStartError as exc:
        err(str(exc))
        return EXIT_API


def auth_message(exc: AuthError, backend: Backend) -> str:
    """A refused key, said as such (the server was reached), with where the key came from."""
    host = (backend.base_url or "").split("://", 1)[-1] or "the local engine"
    source = backend.key_source or (
        "the local engine's key file" if backend.kind == "embedded" else "nowhere"
    )
    if exc.status == 401:
        why = exc.error_type or "unauthorized"
        return (
            f"{host} answered, and refused the API key ({why}). The key came from {source}: "
            f"check it belongs to workspace {backend.workspace_id}."
        )
    return f"{exc.user_message} (The key came from {source}.)"


def _in_session(
    settings: Settings,
    backend: Backend,
    go: Callable[[RunSession, _Watching], Awaitable[int]],
    app: str,
) -> int:
    """Connect (the local engine started before any event loop, so Ctrl-C is immediate), run
    ``go`` with a session, and close everything; Ctrl-C anywhere ends it with exit 130."""
    from dusttui.session.backend import Connector

    connector = Connector(backend, settings)
    watching = _Watching(app, connector)
    interrupted = False
    try:
        connector.wait_ready()
        if connector.mismatch:
            err(f"note: {connector.mismatch}.")
        return asyncio.run(_session_main(connector, go, watching))
    except KeyboardInterrupt:
        interrupted = True
        raise WatchStopped(watching.stopped("Interrupted"), EXIT_INTERRUPTED) from None
    finally:
        if not interrupted:  # an engine served from this process (the local engine goes on)
            connector.close_engine()


class _UnwaitedExecutor(ThreadPoolExecutor):
    """The event loop's default executor, whose shutdown never waits for running threads."""

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=False, cancel_futures=True)


async def _session_main(
    connector: Connector,
    go: Callable[[RunSession, _Watching], Awaitable[int]],
    watching: _Watching,
) -> int:
    from dusttui.config import data_dir
    from dusttui.session.journal_io import JournalIO
    from dusttui.session.runs import RunSession

    # Ctrl-C cancels this task, then asyncio.run waits for its default executor's threads: a
    # thread still parsing a 30 MB run kept the exit waiting 0.7 s. Never wait for them there
    # (every result this command needs is awaited before; an interrupted command exits at once).
    asyncio.get_running_loop().set_default_executor(_UnwaitedExecutor())
    journal = JournalIO(data_dir() / "journal.sqlite")
    session = RunSession(connector, journal=journal)
    try:
        return await go(session, watching)
    finally:
        await session.aclose()
        await connector.aclose(leave_engine=True)
        await asyncio.to_thread(journal.close)


# ------------------------------------------------------------------ apps


async def find_app(client: DustClient, name: str) -> App:
    """The app whose sId or name is ``name`` (a clear error when none or several match)."""
    apps = await client.list_apps()
    tests: tuple[Callable[[App], bool], ...] = (lambda a: a.sId == name, lambda a: a.name == name)
    for test in tests:
        found = [a for a in apps if test(a)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise InputError(f"Several apps are named `{name}`: use its sId ({found[0].sId}, …).")
    lowered = [a for a in apps if a.name.lower() == name.lower()]
    if len(lowered) == 1:
        return lowered[0]
    names = ", ".join(sorted(a.name for a in apps)) or "none"
    raise InputError(f"No app `{name}` here (apps: {names}).")


def cmd_apps(settings: Settings, backend: Backend, *, as_json: bool) -> int:
    """`dusttui apps`."""

    async def go(session: RunSession, watching: _Watching) -> int:
        apps = await session.connector.client.list_apps()
        if as_json:
            emit_json([to_wire(app) for app in apps])
            return EXIT_OK
        if not apps:
            click.echo("No apps.")
        for line in apps_lines(apps):
            click.echo(line)
        return EXIT_OK

    return _in_session(settings, backend, go, "")


# ------------------------------------------------------------------ run


def read_config(
    value: str | None, app: App, providers: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """``--config`` as a file or inline JSON; without it, the app's saved config. ``providers``:
    the server's provider ids when known (the local engine's), checked before anything is sent."""
    if value is None:
        text = app.savedConfig or "{}"
        where = "saved config"
    elif value.lstrip().startswith("{"):
        text, where = value, "--config"
    else:
        text, where = _read_file(value, "--config"), value
    config = parse_json(text, where)
    check_config(config, blocks_of_saved_specification(app.savedSpecification), providers)
    return config  # type: ignore[no-any-return]


def read_inputs(items: tuple[str, ...], file: str | None) -> list[Any]:
    """``--input JSON`` (repeatable) and/or ``--inputs FILE|-`` (empty when neither is given)."""
    try:
        inputs: list[Any] = [
            parse_json(item, f"input {n} (--input)") for n, item in enumerate(items)
        ]
        if file is not None:
            if file == "-":
                text, fmt = sys.stdin.read(), None
            else:
                text, fmt = _read_file(file, "--inputs"), inputs_format_for(file)
            from_file = parse_inputs(text, fmt, file if file != "-" else "stdin")
            if not from_file:
                where = "stdin" if file == "-" else f"`{file}`"
                raise InputError(
                    f"--inputs: {where} holds no inputs: a run of none would do nothing. "
                    "Give at least one."
                )
            inputs += from_file
        check_inputs(inputs)
    except InputError as exc:
        # Inputs count from 0 everywhere (these errors, a run's errors, its traces): say so.
        message = str(exc)
        if re.search(r"\binput \d", message):
            message = message.rstrip(".") + ". Inputs are counted from 0."
        raise InputError(message) from None
    return inputs


def local_providers(session: RunSession) -> tuple[str, ...] | None:
    """The provider ids a config may name: the local engine's, or None (dust.tt decides)."""
    return LOCAL_ENGINE_PROVIDER_IDS if session.connector.local else None


def _read_file(path: str, option: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{option}: no file `{path}`.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{option}: `{path}` cannot be read: {exc}") from None


def resolve_hash(app: App, requested: str | None) -> str:
    """``--hash`` as given (64 hex characters or ``latest``), or the hash of the app's saved
    specification (else ``latest``)."""
    from dusttui.specs import saved_specification_hash

    saved = saved_specification_hash(app)
    if not requested:
        return saved or "latest"
    if requested == "latest" or re.fullmatch(r"[0-9a-fA-F]{64}", requested):
        return requested.lower()
    hint = f"; the saved version of {app.name} is {saved}" if saved else ""
    raise InputError(
        f"--hash `{requested}` is not a specification hash: 64 hex characters (as `dusttui hash "
        f"FILE.dust` prints) or `latest`{hint}."
    )


def pick_mode(stream: bool, poll: bool, blocking: bool) -> str:
    """The launch mode from ``--stream``/``--poll``/``--blocking`` (stream when none); two at
    once are a usage error, as ``--json --jsonl`` are."""
    chosen = [m for m, on in (("stream", stream), ("poll", poll), ("blocking", blocking)) if on]
    if len(chosen) > 1:
        given = " and ".join(f"--{m}" for m in chosen)
        raise InputError(f"{given} cannot be used together: pick one mode.")
    return chosen[0] if chosen else "stream"


def check_timeout(timeout: float | None) -> None:
    """``--timeout`` must be a time to wait: more than 0 seconds."""
    if timeout is not None and not timeout > 0:  # NaN too
        raise InputError(
            f"--timeout must be more than 0 seconds (got {timeout:g}); leave it out to wait "
            "until the run ends."
        )


def cmd_run(
    settings: Settings,
    backend: Backend,
    *,
    app: str,
    spec_hash: str | None,
    config: str | None,
    input_items: tuple[str, ...],
    inputs_file: str | None,
    mode: str,
    block_filter: tuple[str, ...],
    as_json: bool,
    as_jsonl: bool,
    timeout: float | None,
) -> int:
    """`dusttui run`: launch a run and follow it to its end."""
    if as_json and as_jsonl:
        raise InputError("--json and --jsonl cannot be used together.")
    check_timeout(timeout)
    if block_filter and mode != "blocking":
        raise InputError(
            "--block-filter works with --blocking only (the protocol ignores it otherwise)."
        )
    inputs = read_inputs(input_items, inputs_file)  # before any request: bad input costs nothing

    async def go(session: RunSession, watching: _Watching) -> int:
        found = await find_app(session.connector.client, app)
        if not inputs:
            from dusttui.specs import sample_inputs

            inputs[:] = sample_inputs(found) or []
            if not inputs:
                raise InputError("No inputs: give --input JSON (repeatable) or --inputs FILE.")
            progress(f"using the {plural(len(inputs), 'sample input')} of {found.name}")
        cfg = read_config(config, found, local_providers(session))
        spec = resolve_hash(found, spec_hash)
        check_body_size({"specification_hash": spec, "config": cfg, "inputs": inputs})
        progress(
            f"{found.name} · {plural(len(inputs), 'input')} · {mode} · {session.connector.host}"
        )
        printer = Printer(session.clock)
        session.subscribe(printer)
        if as_jsonl:
            session.event_sink = lambda run, event: emit_json(to_wire(event))
        run = session.launch(
            found, spec, cfg, inputs, mode, block_filter=list(block_filter) or None
        )
        watching.run = run
        # On one terminal, the blocks the progress showed are not listed again below it.
        shown = printer.shown if printer.tty and sys.stdout.isatty() else None
        return await _follow_to_end(session, run, watching, timeout, as_json, as_jsonl, shown)

    return _in_session(settings, backend, go, app)


async def _follow_to_end(
    session: RunSession,
    run: TrackedRun,
    watching: _Watching,
    time_limit: float | None,
    as_json: bool,
    as_jsonl: bool,
    shown: set[str] | None = None,
) -> int:
    try:
        async with asyncio.timeout(time_limit):
            end = await session.wait(run)
    except TimeoutError:
        raise WatchStopped(watching.stopped("Timed out"), EXIT_TIMEOUT) from None
    state = run.state
    if end.reason == EndReason.CONNECTION_LOST:
        err(end.message)
        return EXIT_API
    if run.error is not None:
        raise run.error
    if state is None or end.reason in (EndReason.FAILED, EndReason.DETACHED):
        err(end.message)
        return EXIT_API
    if state.prerun_error is not None:
        raise state.prerun_error.as_exception()
    return report(state, end, as_json=as_json, as_jsonl=as_jsonl, shown=shown)


def cmd_get(settings: Settings, backend: Backend, *, run_id: str, app: str, as_json: bool) -> int:
    """`dusttui get`: one run as the server has it, with why it ended."""

    async def go(session: RunSession, watching: _Watching) -> int:
        found = await find_app(session.connector.client, app)
        ref = await resolve_run_ref(session, found, run_id)
        state, note = await session.fetch_kept(found.sId, ref)  # a merged run: the journal's
        if note is not None:
            err(note)
        end = end_of(state) if state.done else None
        return report(state, end, as_json=as_json, cost_json=True)

    return _in_session(settings, backend, go, app)


def cmd_watch(
    settings: Settings,
    backend: Backend,
    *,
    run_id: str,
    app: str,
    as_json: bool,
    timeout: float | None,
) -> int:
    """`dusttui watch`: follow a run launched elsewhere to its end."""
    check_timeout(timeout)

    async def go(session: RunSession, watching: _Watching) -> int:
        found = await find_app(session.connector.client, app)
        full_id = await resolve_run_ref(session, found, run_id)
        printer = Printer(session.clock)
        session.subscribe(printer)
        run = session.open(full_id, found.sId, found.name)
        watching.run = run
        shown = printer.shown if printer.tty and sys.stdout.isatty() else None
        return await _follow_to_end(session, run, watching, timeout, as_json, False, shown)

    return _in_session(settings, backend, go, app)


def cmd_cancel(
    settings: Settings, backend: Backend, *, run_id: str, app: str, as_json: bool
) -> int:
    """`dusttui cancel`: stop a run of the local engine (exit 0 once it is cancelled)."""

    async def go(session: RunSession, watching: _Watching) -> int:
        found = await find_app(session.connector.client, app)
        full_id = await resolve_run_ref(session, found, run_id)
        state, cancelled = await session.cancel_by_id(found.sId, full_id)
        end = end_of(state) if state.done else None
        if end is None or not cancelled:
            status = end.status if end is not None else "running"
            err(f"Run {full_id} is not running ({status}): nothing to cancel.")
            return EXIT_USAGE
        report(state, end, as_json=as_json)
        return EXIT_OK

    return _in_session(settings, backend, go, app)
