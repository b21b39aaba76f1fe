"""The command line: the TUI by default, and the headless commands beside it.

Kept import-light: `dusttui --help` must answer fast, so every heavy import (httpx, pydantic
models, Textual, the engine) happens inside the command that needs it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from dusttui import __version__
from dusttui.exitcodes import EXIT_INTERRUPTED, EXIT_USAGE

if TYPE_CHECKING:
    from dusttui.config import Backend, Settings

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def remote_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options that choose the backend, on every command that talks to one."""
    options = [
        click.option("--profile", metavar="NAME", help="Use a profile from the config file."),
        click.option(
            "--local", is_flag=True, help="Use the embedded engine even if a profile is set."
        ),
        click.option(
            "--base-url",
            metavar="URL",
            help="https://dust.tt, https://eu.dust.tt or a `dusttui serve` URL [env DUST_BASE_URL].",
        ),
        click.option("--workspace", metavar="WID", help="Workspace id [env DUST_WORKSPACE_ID]."),
        click.option("--space", metavar="SID", help="Space id [env DUST_SPACE_ID]."),
        click.option(
            "-v",
            "--verbose",
            count=True,
            help="Print every API call on stderr: method, URL, status, bytes, time, retry "
            "(never the key); -vv adds the request's body and the answer's first bytes.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _backend(ctx: click.Context, kwargs: dict[str, Any]) -> tuple[Settings, Backend]:
    from dusttui.config import ConfigError, load_settings, resolve_backend

    parent = ctx.find_root().params
    pick = {
        k: kwargs.pop(k, None) or parent.get(k)
        for k in ("profile", "base_url", "workspace", "space")
    }
    local = bool(kwargs.pop("local", False) or parent.get("local"))
    try:
        settings = load_settings()
        backend = resolve_backend(
            settings,
            profile=pick["profile"],
            local=local,
            base_url=pick["base_url"],
            workspace=pick["workspace"],
            space=pick["space"],
        )
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    apps_dir: Path | None = parent.get("apps_dir")
    if apps_dir is not None:
        if backend.kind != "embedded":
            fail(
                f"--apps serves a folder with the local engine, but the backend is "
                f"{backend.label}: add --local to use the local engine.",
                EXIT_USAGE,
            )
        # the same setting as apps_dir in config.toml / DUSTTUI_APPS_DIR, for this command only
        settings.apps_dir = apps_dir
    return settings, backend


def fail(message: str, code: int) -> NoReturn:
    """Print an error on stderr (shown safely) and exit with the contract's code."""
    from dusttui.textsafe import safe_text

    click.echo(f"dusttui: {safe_text(message)}", err=True)
    sys.exit(code)


def with_backend(func: Callable[..., int]) -> Callable[..., Any]:
    """Resolve the backend from the options, run the command, exit with its code."""

    def wrapper(ctx: click.Context, /, **kwargs: Any) -> None:
        verbose = int(kwargs.pop("verbose", 0) or 0) + int(
            ctx.find_root().params.get("verbose") or 0
        )
        settings, backend = _backend(ctx, kwargs)
        if verbose:
            from dusttui.output import log_requests

            log_requests(bodies=verbose > 1)
        from dusttui.headless import run_guarded

        sys.exit(run_guarded(func, settings, backend, **kwargs))

    # click names the command and writes its help from these
    wrapper.__name__, wrapper.__doc__ = func.__name__, func.__doc__
    return remote_options(click.pass_context(wrapper))


class _Main(click.Group):
    """The command group; Ctrl-C at any moment ends with exit 130, never click's "Aborted!"."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt:
            _interrupted()

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            _interrupted()


def _complete_app(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[click.shell_completion.CompletionItem]:
    """App names for shell completion: from a cache, refreshed from the backend (quickly; never
    a traceback, offline or not)."""
    from click.shell_completion import CompletionItem

    try:
        from dusttui.completion import complete_app_names

        root = ctx.find_root().params
        pick = {k: ctx.params.get(k) or root.get(k) for k in _BACKEND_KEYS}
        names = complete_app_names(incomplete, **pick)
    except Exception:  # a completion must never print a traceback into the user's prompt
        return []
    return [CompletionItem(name) for name in names]


_BACKEND_KEYS = ("profile", "local", "base_url", "workspace", "space", "apps_dir")


def _interrupted() -> NoReturn:
    click.echo("dusttui: Interrupted.", err=True)
    sys.exit(EXIT_INTERRUPTED)


@click.group(
    cls=_Main,
    invoke_without_command=True,
    context_settings=CONTEXT_SETTINGS,
    epilog="With no command, opens the TUI. Docs: README.md · exit codes: 0 ok, 1 run errored "
    "(or cancelled, interrupted), 2 usage/input, 3 API/connection/auth, 4 timeout, 130 interrupted.",
)
@click.version_option(__version__, prog_name="dusttui")
@click.option(
    "--apps",
    "apps_dir",
    metavar="DIR",
    type=click.Path(exists=True, file_okay=False, resolve_path=True, path_type=Path),
    help="A folder of NAME.dust apps for the local engine, instead of apps_dir "
    "(`dusttui locate apps`).",
)
@remote_options
@click.pass_context
def main(ctx: click.Context, /, **kwargs: Any) -> None:
    """dusttui — launch Dust app runs, watch every block live, explore every trace.

    With nothing configured, the embedded engine serves its bundled demo apps.

    \b
    Examples:
      dusttui                          # the TUI
      dusttui --apps ./my-apps         # the TUI on your own folder of NAME.dust apps
      dusttui run qa-demo --input '{"question": "What is 2+2?"}'
      dusttui apps --json
    """
    if ctx.invoked_subcommand is not None:
        return
    kwargs.pop("apps_dir", None)  # read by _backend from the root's params
    kwargs.pop("verbose", None)  # the TUI has its request log screen (`l`)
    import gc

    # Until the first frame is drawn (DustApp.on_mount enables it again): the cyclic GC's
    # passes over the objects the settings' and Textual's imports create cost ~30 ms of start.
    gc.disable()
    settings, backend = _backend(ctx, dict(kwargs))
    from dusttui.session.backend import Connector

    connector = Connector(backend, settings)
    # The first frame lists the local apps' names; the local engine is started once that frame
    # is on screen (DustApp.on_mount): its start would take the CPU from the frame (h10).
    connector.list_folder()
    from dusttui.tui.app import run_tui

    sys.exit(run_tui(settings, backend, connector=connector))


@main.command(context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="Print the apps as JSON on stdout.")
@with_backend
def apps(settings: Settings, backend: Backend, *, as_json: bool) -> int:
    """List the apps of the workspace (or of the embedded engine).

    \b
    Example:
      dusttui apps --json | jq '.[].name'
    """
    from dusttui.headless import cmd_apps

    return cmd_apps(settings, backend, as_json=as_json)


@main.command(context_settings=CONTEXT_SETTINGS)
@click.argument("app", shell_complete=_complete_app)
@click.option(
    "--hash",
    "spec_hash",
    metavar="H|latest",
    help="Specification hash (default: the app's saved one).",
)
@click.option(
    "--config",
    "config",
    metavar="FILE|JSON",
    multiple=True,
    help="Block config, a file or inline JSON (default: the saved config). Several: one run "
    "each, shown side by side.",
)
@click.option(
    "--input", "input_items", metavar="JSON", multiple=True, help="One input object (repeatable)."
)
@click.option(
    "--inputs",
    "inputs_file",
    metavar="FILE|-",
    help="Inputs: JSON array, JSONL or CSV file; - reads stdin.",
)
@click.option("--stream", is_flag=True, help="Follow the run on its event stream (default).")
@click.option("--poll", is_flag=True, help="Create the run, then poll it.")
@click.option("--blocking", is_flag=True, help="Wait for the whole run in one request.")
@click.option(
    "--block-filter", metavar="NAME", multiple=True, help="Keep only these blocks (blocking mode)."
)
@click.option("--json", "as_json", is_flag=True, help="Print only the final run as JSON on stdout.")
@click.option(
    "--jsonl", "as_jsonl", is_flag=True, help="Print each event as it arrives, then the final run."
)
@click.option(
    "--timeout", type=float, metavar="SECONDS", help="Give up watching after this long (exit 4)."
)
@click.option(
    "--keep",
    "keep",
    type=int,
    metavar="N",
    help="With several --config: keep config N as the app's saved config (local engine).",
)
@click.option(
    "--rerun-failed",
    "rerun_failed",
    metavar="RUN_ID",
    help="Re-run only the inputs of RUN_ID that failed (its hash, config), then merge.",
)
@with_backend
def run(settings: Settings, backend: Backend, **options: Any) -> int:
    """Launch a run of APP (its sId or name) and follow it to its end.

    \b
    Examples:
      dusttui run qa-demo --input '{"question": "What is 2+2?"}'
      dusttui run flaky-demo --inputs inputs.jsonl --json > run.json
      cat rows.csv | dusttui run my-app --inputs - --poll --timeout 600
      dusttui run flaky-demo --rerun-failed 5be2f4c0   # then prints the merged run
      dusttui run qa-demo --config a.json --config b.json   # side by side
    """
    from dusttui.headless import check_timeout, cmd_run, pick_mode

    mode = pick_mode(options.pop("stream"), options.pop("poll"), options.pop("blocking"))
    if options.get("rerun_failed"):
        from dusttui.compare.rerun_command import cmd_rerun_failed

        check_timeout(options.get("timeout"))
        return cmd_rerun_failed(settings, backend, mode=mode, **options)
    if len(options["config"]) > 1 or options.get("keep") is not None:
        from dusttui.compare.configs_command import cmd_try_configs

        check_timeout(options.get("timeout"))
        return cmd_try_configs(settings, backend, mode=mode, **options)
    options.pop("rerun_failed", None)
    options.pop("keep", None)
    options["config"] = options["config"][0] if options["config"] else None
    return cmd_run(settings, backend, mode=mode, **options)


@main.command(context_settings=CONTEXT_SETTINGS)
@click.argument("run_id")
@click.option(
    "--app",
    "app",
    required=True,
    shell_complete=_complete_app,
    help="The app the run belongs to (sId or name).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON on stdout.")
@with_backend
def get(settings: Settings, backend: Backend, *, run_id: str, app: str, as_json: bool) -> int:
    """Fetch a run with all its traces.

    \b
    Example:
      dusttui get 5be2f4c0… --app qa-demo --json
    """
    from dusttui.headless import cmd_get

    return cmd_get(settings, backend, run_id=run_id, app=app, as_json=as_json)


@main.command(context_settings=CONTEXT_SETTINGS)
@click.argument("run_id")
@click.option(
    "--app",
    "app",
    required=True,
    shell_complete=_complete_app,
    help="The app the run belongs to (sId or name).",
)
@click.option("--json", "as_json", is_flag=True, help="Print only the final run as JSON on stdout.")
@click.option(
    "--timeout", type=float, metavar="SECONDS", help="Give up watching after this long (exit 4)."
)
@with_backend
def watch(
    settings: Settings,
    backend: Backend,
    *,
    run_id: str,
    app: str,
    as_json: bool,
    timeout: float | None,
) -> int:
    """Follow a running run (by polling) until it ends.

    \b
    Example:
      dusttui watch 5be2f4c0… --app qa-demo
    """
    from dusttui.headless import cmd_watch

    return cmd_watch(settings, backend, run_id=run_id, app=app, as_json=as_json, timeout=timeout)


@main.command(context_settings=CONTEXT_SETTINGS)
@click.argument("run_id")
@click.option(
    "--app",
    "app",
    required=True,
    shell_complete=_complete_app,
    help="The app the run belongs to (sId or name).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the cancelled run as JSON on stdout.")
@with_backend
def cancel(settings: Settings, backend: Backend, *, run_id: str, app: str, as_json: bool) -> int:
    """Cancel a running run of the local engine (exit 0 once it is cancelled).

    dust.tt's API has no cancel: there, stop watching with Ctrl-C (the run continues).

    \b
    Example:
      dusttui cancel 5be2f4c0… --app load-1000
    """
    from dusttui.headless import cmd_cancel

    return cmd_cancel(settings, backend, run_id=run_id, app=app, as_json=as_json)


@main.command(context_settings=CONTEXT_SETTINGS)
@click.argument("apps", nargs=-1, metavar="[APP]...", shell_complete=_complete_app)
@click.option("--to", "to", required=True, type=click.Path(path_type=Path), help="Folder to write.")
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@with_backend
def pull(settings: Settings, backend: Backend, **options: Any) -> int:
    """Write apps (all, or the named ones) as NAME.dust + config + description files.

    \b
    Example:
      dusttui pull --to ./my-apps && dusttui serve --apps ./my-apps
    """
    from dusttui.pull import cmd_pull

    return cmd_pull(settings, backend, **options)


@main.command(context_settings=CONTEXT_SETTINGS)
@click.argument("run_a")
@click.argument("run_b")
@click.option(
    "--app",
    "app",
    required=True,
    shell_complete=_complete_app,
    help="The app both runs belong to (sId or name).",
)
@click.option("--key", metavar="FIELD", help="Match inputs by this input field, not by index.")
@click.option("--json", "as_json", is_flag=True, help="Print the diff as JSON (docs/iterate.md).")
@click.option(
    "--limit", type=int, default=100, show_default=True, help="Differences shown (0: all)."
)
@with_backend
def diff(settings: Settings, backend: Backend, **options: Any) -> int:
    """Compare two runs of APP: exit 0 when every execution is the same, 1 when not.

    Runs are named by id or a unique prefix of it.

    \b
    Examples:
      dusttui diff 5be2f4c0 9c1d77e2 --app qa-demo
      dusttui diff 5be2f4c0 9c1d77e2 --app my-app --key id --json | jq .counts
    """
    from dusttui.compare.command import cmd_diff

    return cmd_diff(settings, backend, **options)


@main.command("hash", context_settings=CONTEXT_SETTINGS)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def hash_command(file: Path) -> None:
    """Print the specification_hash of a .dust file.

    \b
    Example:
      dusttui hash my-app.dust
    """
    from dusttui.engine.spec import SpecError, parse_spec, read_spec_file

    try:
        spec = parse_spec(read_spec_file(file))
    except SpecError as exc:
        fail(f"{file}: {exc}", EXIT_USAGE)
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{file}: cannot be read: {exc}", EXIT_USAGE)
    click.echo(spec.hash)


@main.command(context_settings=CONTEXT_SETTINGS)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port", default=8787, show_default=True, type=int, help="Port to bind (0: any free port)."
)
@click.option(
    "--apps",
    "apps_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="A folder of NAME.dust apps (added to the demo apps).",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite database (default: in the data dir).",
)
@click.option("--allow-network", is_flag=True, help="Let `curl` blocks make real HTTP requests.")
def serve(
    host: str, port: int, apps_dir: Path | None, db_path: Path | None, allow_network: bool
) -> None:
    """Serve the Dust runs API locally (the embedded engine), for the SDK, curl or dusttui.

    \b
    Example:
      dusttui serve --apps ./my-apps --port 8787
      DUST_BASE_URL=http://127.0.0.1:8787 DUST_WORKSPACE_ID=local dusttui apps
    """
    from dusttui.enginecmd import cmd_serve

    apps_dir = apps_dir or click.get_current_context().find_root().params.get("apps_dir")
    sys.exit(
        cmd_serve(
            host=host, port=port, apps_dir=apps_dir, db_path=db_path, allow_network=allow_network
        )
    )


@main.group(context_settings=CONTEXT_SETTINGS)
def engine() -> None:
    """See or stop the local engine (shared by every dusttui; stops by itself when idle).

    \b
    Examples:
      dusttui engine status
      dusttui engine stop
    """


@engine.command("status", context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="Print the engine as JSON on stdout.")
def engine_status(as_json: bool) -> None:
    """Say whether the local engine runs: its URL, pid, running runs, idle stop."""
    from dusttui.enginecmd import cmd_engine_status

    sys.exit(cmd_engine_status(as_json=as_json))


@engine.command("stop", context_settings=CONTEXT_SETTINGS)
def engine_stop() -> None:
    """Stop the local engine now (its running runs end interrupted)."""
    from dusttui.enginecmd import cmd_engine_stop

    sys.exit(cmd_engine_stop())


@main.command(context_settings=CONTEXT_SETTINGS)
@click.argument(
    "what", required=False, type=click.Choice(["config", "data", "themes", "prices", "apps"])
)
@click.option(
    "--create",
    is_flag=True,
    help="Create it if missing: a commented starter file (config, prices) or the folder.",
)
def locate(what: str | None, create: bool) -> None:
    """Print where dusttui keeps its config file, its data, the user's themes, model prices or
    the user's apps (without WHAT: each of them, and whether it is there).

    The path is printed even when nothing is there yet (stderr then says so); --create makes
    it: a commented starter for config and prices (never over an existing file), the folder
    for data, themes and apps. The apps folder is apps_dir (config.toml, DUSTTUI_APPS_DIR,
    `dusttui --apps DIR`), else <config dir>/apps: its NAME.dust files are the local engine's
    apps, beside the demos.

    \b
    Examples:
      dusttui locate config --create && $EDITOR "$(dusttui locate config)"
      dusttui locate prices --create     # add your models' prices (cost estimates)
      dusttui locate apps --create && cp my-app.dust "$(dusttui locate apps)"
    """
    from dusttui.locate import cmd_locate

    root = click.get_current_context().find_root().params
    if what is None:
        from dusttui.locate import cmd_locate_all

        if create:
            fail("--create makes one thing: name it (dusttui locate apps --create).", EXIT_USAGE)
        sys.exit(cmd_locate_all(apps_dir=root.get("apps_dir")))
    sys.exit(cmd_locate(what, create=create, apps_dir=root.get("apps_dir")))
