"""Comparing runs: the diff of two runs, value diffs, and the `dusttui diff` command. No Textual.

Reads runs only through :class:`~dusttui.api.state.RunState`'s public reading API, so it works on
runs fetched from a server, reopened from the journal, or still streaming.
"""

from dusttui.compare.rows import DiffError, Pairing
from dusttui.compare.rundiff import COUNTS, KINDS, BlockDiff, Detail, Difference, RunDiff
from dusttui.compare.values import Change, diff_values, path_text, same_json

__all__ = [
    "COUNTS",
    "KINDS",
    "BlockDiff",
    "Change",
    "Detail",
    "DiffError",
    "Difference",
    "Pairing",
    "RunDiff",
    "diff_values",
    "path_text",
    "same_json",
]
