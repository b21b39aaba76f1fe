"""Theme files: TOML in `themes/` (bundled) and in the user's themes folder.

A theme file holds Textual's `Theme` fields (`name`, `primary`, `background`, ..., `dark`) and a
`[variables]` table; the block-state colours are the variables `block-running`, `block-succeeded`,
`block-errored` (and `block-pending`). A file that cannot be used is reported, never fatal.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

DEFAULT_THEME = "dusttui-dark"

# Where a theme says nothing of a state (Textual's own themes), the state takes this colour.
BLOCK_VARIABLE_SOURCES: dict[str, str] = {
    "block-running": "warning",
    "block-succeeded": "success",
    "block-errored": "error",
    "block-pending": "foreground-muted",
}

_COLOUR_FIELDS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
_ALLOWED = {f.name for f in fields(Theme)}

# If even the bundled files are gone (a broken install), the app still has a theme.
FALLBACK_THEME = Theme(
    name=DEFAULT_THEME,
    primary="#5FA8D3",
    secondary="#3D6E8C",
    accent="#F2B134",
    warning="#F2B134",
    error="#E5616B",
    success="#5CC98A",
    foreground="#DCE3EA",
    background="#14181D",
    surface="#1C2229",
    panel="#26303A",
    variables={
        "block-running": "#F2B134",
        "block-succeeded": "#5CC98A",
        "block-errored": "#E5616B",
        "block-pending": "#7A8794",
    },
)


class ThemeFileError(ValueError):
    """A theme file that cannot be used; the message names the file and the reason."""


@dataclass(frozen=True)
class ThemeLoad:
    """What loading the theme folders gave: the themes, and one message per bad file."""

    themes: dict[str, Theme]
    errors: list[str]


def bundled_themes_dir() -> Path:
    """The folder of bundled themes: `themes/` at the repository root, or inside the package."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "themes", here.parents[1] / "themes"):
        if candidate.is_dir():
            return candidate
    return here.parents[2] / "themes"


def _check_colour(path: Path, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ThemeFileError(f'{path.name}: `{key}` must be a colour string like "#1E5F8C".')
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeFileError(f"{path.name}: `{key}` = {value!r} is not a colour.") from None
    return value


def load_theme_file(path: Path) -> Theme:
    """Read one theme file; raise :class:`ThemeFileError` saying what is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(f"{path.name}: not valid TOML ({exc}).") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeFileError(f"{path.name}: cannot be read ({exc}).") from None
    unknown = sorted(set(data) - _ALLOWED)
    if unknown:
        raise ThemeFileError(f"{path.name}: unknown key `{unknown[0]}`.")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ThemeFileError(f"{path.name}: a theme needs a `name`.")
    if "primary" not in data:
        raise ThemeFileError(f"{path.name}: a theme needs a `primary` colour.")
    for key in _COLOUR_FIELDS:
        if key in data:
            _check_colour(path, key, data[key])
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ThemeFileError(f"{path.name}: `variables` must be a table.")
    for key, value in variables.items():
        _check_colour(path, f"variables.{key}", value)
    for key in ("dark", "ansi"):
        if key in data and not isinstance(data[key], bool):
            raise ThemeFileError(f"{path.name}: `{key}` must be true or false.")
    for key in ("luminosity_spread", "text_alpha"):
        if key in data and not isinstance(data[key], int | float):
            raise ThemeFileError(f"{path.name}: `{key}` must be a number.")
    return Theme(**data)


def block_variable_defaults(theme: Theme) -> dict[str, str]:
    """The block-state colours derived from a theme's own palette (for themes that omit them)."""
    generated = theme.to_color_system().generate()
    return {name: generated[source] for name, source in BLOCK_VARIABLE_SOURCES.items()}


def load_themes(*folders: Path | None) -> ThemeLoad:
    """Load every `*.toml` of the folders in order; a later file with the same name wins."""
    themes: dict[str, Theme] = {}
    errors: list[str] = []
    for folder in folders:
        if folder is None or not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ThemeFileError as exc:
                errors.append(str(exc))
                continue
            themes[theme.name] = theme
    if DEFAULT_THEME not in themes:
        themes[DEFAULT_THEME] = FALLBACK_THEME
    return ThemeLoad(themes, errors)
