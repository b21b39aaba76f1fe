"""Theme files: the bundled ones load with their block colours; a bad file is reported, not fatal."""

from __future__ import annotations

from pathlib import Path

from dusttui.tui.themes import (
    DEFAULT_THEME,
    ThemeFileError,
    block_variable_defaults,
    bundled_themes_dir,
    load_theme_file,
    load_themes,
)


def test_bundled_themes_have_the_three_block_colours():
    loaded = load_themes(bundled_themes_dir())
    assert loaded.errors == []
    assert {"dusttui-dark", "dusttui-light", "dusttui-high-contrast"} <= set(loaded.themes)
    dark = loaded.themes["dusttui-dark"]
    assert dark.variables["block-running"] == "#F2B134"
    assert dark.variables["block-succeeded"] == "#5CC98A"
    assert dark.variables["block-errored"] == "#E5616B"
    assert loaded.themes["dusttui-light"].dark is False


def test_user_folder_adds_a_theme_and_a_bad_file_is_one_message(tmp_path: Path):
    (tmp_path / "mine.toml").write_text(
        'name = "mine"\nprimary = "#112233"\n[variables]\nblock-running = "#ABCDEF"\n'
    )
    (tmp_path / "broken.toml").write_text('name = "broken"\nprimary = "not-a-colour"\n')
    loaded = load_themes(bundled_themes_dir(), tmp_path)
    assert loaded.themes["mine"].variables["block-running"] == "#ABCDEF"
    assert "broken" not in loaded.themes
    assert loaded.errors == ["broken.toml: `primary` = 'not-a-colour' is not a colour."]


def test_theme_file_errors_name_the_problem(tmp_path: Path):
    cases = {
        "a.toml": ("name = ", "a.toml: not valid TOML"),
        "b.toml": ('primary = "#000000"\n', "b.toml: a theme needs a `name`."),
        "c.toml": ('name = "c"\n', "c.toml: a theme needs a `primary` colour."),
        "d.toml": (
            'name = "d"\nprimary = "#000000"\ncolour = "#fff"\n',
            "d.toml: unknown key `colour`.",
        ),
        "e.toml": (
            'name = "e"\nprimary = "#000000"\ndark = "yes"\n',
            "e.toml: `dark` must be true or false.",
        ),
    }
    for filename, (text, message) in cases.items():
        path = tmp_path / filename
        path.write_text(text)
        try:
            load_theme_file(path)
        except ThemeFileError as exc:
            assert str(exc).startswith(message), str(exc)
        else:
            raise AssertionError(f"{filename} was accepted")


def test_without_any_theme_file_the_default_still_exists(tmp_path: Path):
    loaded = load_themes(tmp_path / "missing")
    assert list(loaded.themes) == [DEFAULT_THEME]
    assert loaded.themes[DEFAULT_THEME].variables["block-errored"] == "#E5616B"


def test_textual_themes_get_block_colours_from_their_palette():
    from textual.theme import BUILTIN_THEMES

    colours = block_variable_defaults(BUILTIN_THEMES["nord"])
    assert colours["block-succeeded"].upper() == "#A3BE8C"
