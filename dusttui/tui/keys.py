"""Every key of the app in one table: the bindings, the help overlay and the README come from it.

Each binding has an id, so a user remaps it in config (``[keymap]`` ``launch = "f5"``), and a
tooltip. Keys that terminals or tmux commonly swallow (ctrl+enter, ctrl+s, ctrl+j) are never the
only way to do something: every action has a letter or an F-key.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True)
class Key:
    """One action: its binding id, default keys (comma separated), footer label and help text."""

    id: str
    keys: str
    action: str
    label: str
    help: str
    show: bool = True


# The main screen's keys; order is the help overlay's order.
SCREEN_KEYS: tuple[Key, ...] = (
    Key(
        "launch",
        "r,f5",
        "launch",
        "run",
        "Launch a run of the selected app with this config and inputs",
    ),
    Key(
        "rerun",
        "R",
        "rerun",
        "re-run",
        "Re-run the shown run (from this session or the history) with its hash, config and inputs",
        show=False,
    ),
    Key(
        "mode",
        "m",
        "cycle_mode",
        "mode",
        "Switch the launch mode: stream, poll or blocking",
        show=False,
    ),
    Key(
        "hash",
        "h",
        "change_hash",
        "hash",
        "Choose the version to run: the saved one, a known version, latest or a typed hash",
        show=False,
    ),
    Key("traces", "t", "traces", "traces", "Open the trace explorer on the shown run"),
    Key(
        "diff",
        "d",
        "diff",
        "diff",
        "Compare the shown run with the app's run before it (or with the run marked by D)",
        show=False,
    ),
    Key(
        "mark_diff",
        "D",
        "mark_diff",
        "mark for diff",
        "Mark the shown run as the one d compares the next shown run with",
        show=False,
    ),
    Key(
        "rerun_failed",
        "F",
        "rerun_failed",
        "re-run failed",
        "Re-run only the shown run's failed inputs, then show the merged run",
        show=False,
    ),
    Key(
        "cancel",
        "c",
        "cancel",
        "cancel",
        "Cancel the shown run (asks first; on dust.tt, stops watching it)",
        show=False,
    ),
    Key(
        "next_error",
        "n",
        "next_error",
        "next error",
        "Select the next block that errored",
    ),
    Key(
        "prev_error",
        "N",
        "prev_error",
        "prev error",
        "Select the previous block that errored",
        show=False,
    ),
    Key("filter", "slash", "filter", "filter", "Filter the apps list (type to narrow it)"),
    Key(
        "focus_config",
        "e",
        "focus_config",
        "config",
        "Config tab: edit the config (escape leaves the editor)",
        show=False,
    ),
    Key(
        "focus_inputs",
        "i",
        "focus_inputs",
        "inputs",
        "Inputs tab: edit the inputs (escape leaves the editor)",
        show=False,
    ),
    Key(
        "focus_spec",
        "s",
        "focus_spec",
        "spec",
        "Spec tab: the app's .dust source, its hash and any parse error",
        show=False,
    ),
    Key(
        "save_back",
        "S",
        "save_back",
        "save as the app's",
        "Save the config and inputs as the app's saved config and sample inputs (local engine; "
        "asks first)",
        show=False,
    ),
    Key(
        "load_inputs",
        "o",
        "load_inputs",
        "open inputs",
        "Load inputs from a JSON, JSONL or CSV file",
        show=False,
    ),
    Key(
        "prev_input",
        "left_square_bracket",
        "prev_input",
        "prev input",
        "Show the tokens of the previous input",
        show=False,
    ),
    Key(
        "next_input",
        "right_square_bracket",
        "next_input",
        "next input",
        "Show the tokens of the next input",
        show=False,
    ),
    Key(
        "full_error",
        "z",
        "full_error",
        "whole error",
        "Show the whole error message in the error panel (again: one line)",
        show=False,
    ),
    Key(
        "copy",
        "y",
        "copy",
        "copy",
        "Copy the shown run's id (OSC 52)",
        show=False,
    ),
    Key(
        "export",
        "x",
        "export",
        "export",
        "Export the shown run as JSON into the data folder",
        show=False,
    ),
    Key(
        "requests",
        "l",
        "requests",
        "request log",
        "The request log: every API call of this session (enter opens one: its body and answer)",
        show=False,
    ),
    Key(
        "leave_editor",
        "escape",
        "leave_editor",
        "leave",
        "Leave the editor, back to the lists",
        show=False,
    ),
)

# Keys of the whole app, on every screen.
APP_KEYS: tuple[Key, ...] = (
    Key("help", "question_mark,f1", "help", "help", "Show every key (this overlay)"),
    Key("quit", "q,ctrl+c", "quit", "quit", "Quit (asks first while a run is still being watched)"),
    Key(
        "reload_apps",
        "ctrl+r",
        "reload_apps",
        "reload apps",
        "Re-read the apps (the apps folder is watched too): an edited .dust runs next",
        show=False,
    ),
)

# Keys that are not bindings of ours but appear in the help overlay.
OTHER_KEYS: tuple[tuple[str, str], ...] = (
    ("tab / shift+tab", "Next / previous pane"),
    ("ctrl+p", "Command palette: switch app, launch, open a run, switch theme"),
    ("up / down, enter", "Move in a list; enter picks the app or opens the run"),
)


def bindings(keys: tuple[Key, ...]) -> list[BindingType]:
    """Textual bindings for the table, each with its id and tooltip."""
    return [Binding(k.keys, k.action, k.label, show=k.show, id=k.id, tooltip=k.help) for k in keys]


def display_keys(keys: str) -> str:
    """`question_mark,f1` → `? / F1`: how a key list reads to a person."""
    names = {
        "question_mark": "?",
        "slash": "/",
        "escape": "esc",
        "left_square_bracket": "[",
        "right_square_bracket": "]",
    }
    shown = []
    for key in keys.split(","):
        key = key.strip()
        if key in names:
            shown.append(names[key])
        elif key.startswith("f") and key[1:].isdigit():
            shown.append(key.upper())
        else:
            shown.append(key)
    return " / ".join(shown)


ALL_KEYS: tuple[Key, ...] = SCREEN_KEYS + APP_KEYS
BINDING_IDS: frozenset[str] = frozenset(k.id for k in ALL_KEYS)
# The trace explorer's bindings (dusttui/tui/explorer/bindings.py) are remappable too; their
# module is not imported here, to keep the first frame light.
EXPLORER_ID_PREFIX = "explorer."
DIFF_ID_PREFIX = "diff."  # the diff screen's (dusttui/tui/diff/bindings.py), likewise
CONFIGS_ID_PREFIX = "configs."  # the configs grid's (dusttui/tui/configs_screen.py), likewise
REQUESTS_ID_PREFIX = "requests."  # the request log's (dusttui/tui/screens/requests.py)


def is_binding_id(binding_id: str) -> bool:
    """True for an id a user may remap in `[keymap]`."""
    prefixes = (EXPLORER_ID_PREFIX, DIFF_ID_PREFIX, CONFIGS_ID_PREFIX, REQUESTS_ID_PREFIX)
    return binding_id in BINDING_IDS or binding_id.startswith(prefixes)


def effective_keys(keymap: dict[str, str]) -> list[tuple[Key, str]]:
    """Each key with the keys that trigger it after the user's keymap overrides."""
    return [(k, keymap.get(k.id, k.keys)) for k in ALL_KEYS]


def markdown_table(keymap: dict[str, str] | None = None) -> str:
    """The key table as Markdown, for the README."""
    rows = ["| key | action |", "|---|---|"]
    for key, keys in effective_keys(keymap or {}):
        rows.append(f"| `{display_keys(keys)}` | {key.help} |")
    for keys, text in OTHER_KEYS:
        rows.append(f"| `{keys}` | {text} |")
    return "\n".join(rows)


def shown_key(binding_id: str, keymap: dict[str, str]) -> str:
    """The first key of a binding after the user's keymap, as a person reads it (`r`, `F5`)."""
    default = next((k.keys for k in ALL_KEYS if k.id == binding_id), "")
    keys = keymap.get(binding_id, default)
    return display_keys(keys.split(",")[0]) if keys else "?"


def check_keymap(keymap: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The user's ``[keymap]`` entries that can be used, and a sentence for each refused one.

    Refused: an id no binding has, and a key another binding of the app still uses (``launch =
    "q"`` would silently take quit's key)."""
    problems: list[str] = []
    known = {k: v for k, v in keymap.items() if is_binding_id(k)}
    for unknown in sorted(set(keymap) - set(known)):
        problems.append(
            f"keymap: no binding with id `{unknown}` — the help (? or F1) lists each key's id in "
            "its last column; the README's Keys table has them too."
        )
    accepted = dict(known)
    for binding_id, keys in known.items():
        if binding_id.startswith(EXPLORER_ID_PREFIX):
            continue
        wanted = {k.strip() for k in keys.split(",") if k.strip()}
        for other, other_keys in effective_keys(accepted):
            if other.id == binding_id:
                continue
            taken = wanted & {k.strip() for k in other_keys.split(",")}
            if taken:
                key = display_keys(sorted(taken)[0])
                problems.append(
                    f'keymap: {binding_id} = "{keys}" is not used: {key} already does '
                    f'"{other.label}" (id {other.id}). Remap {other.id} too, or pick another key.'
                )
                del accepted[binding_id]
                break
    return accepted, problems
