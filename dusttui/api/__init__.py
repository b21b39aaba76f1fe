"""The protocol layer: wire models, client, stream events, watch and the RunState reducer.

Nothing here imports Textual or the TUI (import-linter enforces it).
"""
