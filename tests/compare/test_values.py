"""The value diff: field by field, strings word by word, JSON's equality, hostile values."""

from __future__ import annotations

from dusttui.compare.render import change_line
from dusttui.compare.text import safe, side_by_side
from dusttui.compare.values import Change, diff_values, path_text, same_json


def test_fields_changed_added_and_removed_in_reading_order():
    a = {"answer": "The answer is 4.", "n": 4, "old": True, "nested": {"x": [1, 2]}}
    b = {"answer": "The answer is 5.", "n": 4, "nested": {"x": [1, 3]}, "new": None}
    changes, total = diff_values(a, b)
    assert total == 4
    assert [(path_text(c.path), c.op) for c in changes] == [
        ("$.answer", "changed"),
        ("$.old", "removed"),
        ("$.nested.x[1]", "changed"),
        ("$.new", "added"),
    ]
    assert changes[0].words == (("=", "The answer is "), ("-", "4"), ("+", "5"), ("=", "."))
    assert [change_line(c) for c in changes] == [
        '~ $.answer: "The answer is [-4-]{+5+}."',
        "- $.old: true",
        "~ $.nested.x[1]: 2 → 3",
        "+ $.new: null",
    ]


def test_lists_of_other_lengths_are_aligned_on_what_they_share():
    changes, _ = diff_values(["a", "b", "c"], ["z", "a", "b", "c"])
    assert [(path_text(c.path), c.op, c.b) for c in changes] == [("$[0]", "added", "z")]
    changes, _ = diff_values([1, 2, 3, 4], [1, 4])
    assert [(path_text(c.path), c.op, c.a) for c in changes] == [
        ("$[1]", "removed", 2),
        ("$[2]", "removed", 3),
    ]


def test_json_equality_not_pythons():
    assert same_json({"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1})  # key order does not matter
    assert not same_json(True, 1)
    assert not same_json({"a": True}, {"a": 1})
    assert not same_json([1], [1.0])
    assert not same_json(None, 0)
    changes, _ = diff_values({"ok": True}, {"ok": 1})
    assert [change_line(c) for c in changes] == ["~ $.ok: true → 1"]


def test_odd_keys_get_quoted_paths():
    assert path_text(("a b", 0, "x", "é")) == '$["a b"][0].x["é"]'


def test_deep_and_long_values_stay_bounded():
    deep_a: object = 1
    deep_b: object = 2
    for _ in range(5000):  # deeper than Python's recursion limit would allow a naive walk
        deep_a, deep_b = [deep_a], [deep_b]
    changes, total = diff_values(deep_a, deep_b)
    assert total == 1 and len(changes[0].path) == 64  # compared whole past the depth limit
    many_a = {f"k{i}": i for i in range(1000)}
    many_b = {f"k{i}": i + 1 for i in range(1000)}
    changes, total = diff_values(many_a, many_b, limit=10)
    assert (len(changes), total) == (10, 1000)
    long_a = " ".join(f"w{i}" for i in range(20000))
    long_b = long_a.replace("w10000 ", "W10000 ")
    (change,), _ = diff_values(long_a, long_b)
    assert [w for w in change.words if w[0] != "="] == [("-", "w10000"), ("+", "W10000")]


def test_control_characters_never_reach_the_terminal_raw():
    nasty = "red \x1b[31mTEXT\x1b[0m \u202eevil\x07 \x9b2J"
    change = Change(("v",), "changed", "plain", nasty, None)
    line = change_line(change)
    assert "\x1b" not in line and "\u202e" not in line and "\x07" not in line and "\x9b" not in line
    assert line == '~ $.v: "plain" → "red \\u001b[31mTEXT\\u001b[0m \\u202eevil\\u0007 \\u009b2J"'
    assert safe("a\nb\tc", newlines=True) == "a\nb\\u0009c"
    lines = side_by_side(("A error", [safe("boom\x1b[2J")]), ("B value", ["1"]), 40)
    assert lines == ["A error            │ B value", "boom\\u001b[2J      │ 1"]
