"""`dusttui locate`: where dusttui keeps a thing, said even when it is not there yet.

stdout carries only the path (so `$EDITOR "$(dusttui locate config)"` works); stderr says what
is missing and how to make it, and `--create` makes it: a commented starter file for the
config and the prices, the folder for data, themes and apps.
"""

from __future__ import annotations

from pathlib import Path

import click

from dusttui.exitcodes import EXIT_OK, EXIT_USAGE

__all__ = ["WHAT", "apps_folder", "cmd_locate", "cmd_locate_all"]

STARTER_FILES = ("config", "prices")
WHAT = ("config", "data", "themes", "prices", "apps")


def apps_folder(given: Path | None = None) -> Path:
    """The user's apps folder: ``given`` (--apps), else ``apps_dir`` (config.toml,
    DUSTTUI_APPS_DIR), else the default ``<config dir>/apps``. ConfigError if the config is bad."""
    from dusttui.config import default_apps_dir, load_settings

    if given is not None:
        return given
    return load_settings().apps_dir or default_apps_dir()


def cmd_locate(what: str, *, create: bool, apps_dir: Path | None = None) -> int:
    """Print the path of ``what`` and say on stderr whether it exists; make it with ``create``."""
    from dusttui.config import ConfigError
    from dusttui.textsafe import safe_text

    try:
        path = _path_of(what, apps_dir)
    except ConfigError as exc:
        click.echo(f"dusttui: {safe_text(str(exc))}", err=True)
        return EXIT_USAGE
    click.echo(path)
    if path.exists():
        if create:
            _say(f"{path} exists already: left as it is.")
        elif what == "apps" and not path.is_dir():
            _say(f"{path} is not a folder: the local engine reads no apps from it.")
        return EXIT_OK
    if not create:
        made = "a commented starter" if what in STARTER_FILES else "it"
        _say(f"{path} does not exist yet: `dusttui locate {what} --create` makes {made}.")
        return EXIT_OK
    if what in STARTER_FILES:
        from dusttui.starter import STARTER_CONFIG, STARTER_PRICES, write_starter

        write_starter(path, STARTER_CONFIG if what == "config" else STARTER_PRICES)
        _say(f"wrote a commented starter {what} file: {path}")
        return EXIT_OK
    path.mkdir(parents=True, exist_ok=True)
    _say(f"created the folder {path}")
    if what == "apps":
        _say(
            "put NAME.dust files there (NAME.config.json, NAME.inputs.jsonl and "
            "NAME.description.txt beside them are optional): the TUI and `dusttui run NAME` "
            "serve them with the local engine."
        )
    return EXIT_OK


def cmd_locate_all(*, apps_dir: Path | None = None) -> int:
    """`dusttui locate` alone: each thing, its path, and whether it is there yet."""
    from dusttui.config import ConfigError
    from dusttui.textsafe import safe_text

    try:
        paths = [(what, _path_of(what, apps_dir)) for what in WHAT]
    except ConfigError as exc:
        click.echo(f"dusttui: {safe_text(str(exc))}", err=True)
        return EXIT_USAGE
    for what, path in paths:
        missing = "" if path.exists() else f"   (not there yet: dusttui locate {what} --create)"
        click.echo(f"{what:<7} {path}{missing}")
    return EXIT_OK


def _path_of(what: str, apps_dir: Path | None) -> Path:
    from dusttui.config import config_path, data_dir, themes_dir
    from dusttui.costs import user_prices_path

    if what == "apps":
        return apps_folder(apps_dir)
    return {
        "config": config_path,
        "data": data_dir,
        "themes": themes_dir,
        "prices": user_prices_path,
    }[what]()


def _say(text: str) -> None:
    click.echo(f"dusttui: {text}", err=True)
