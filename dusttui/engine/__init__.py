"""The embedded Dust runs engine: .dust parser and hash, runner, blocks, store and ASGI server.

Nothing here imports Textual, the TUI or the client (import-linter enforces it).
"""
