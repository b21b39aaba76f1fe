import os
import signal
import sys


def _interrupted_while_loading(signum: int, frame: object) -> None:
    sys.stderr.write("dusttui: Interrupted.\n")
    raise SystemExit(130)


# Ctrl-C while the command line loads: exit 130 like any interruption, never a traceback.
signal.signal(signal.SIGINT, _interrupted_while_loading)
from dusttui.cli import main  # noqa: E402


def run() -> None:
    """The `dusttui` command: the installed script and `python -m dusttui` both come here,
    so Ctrl-C while the command line loads is covered for both (the handler above). From here
    Ctrl-C is a KeyboardInterrupt, which every command turns into its exit 130; one that comes
    as the handler changes, before a command handles it, ends here the same way."""
    code: object = 0
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        main(prog_name="dusttui")
    except KeyboardInterrupt:
        sys.stderr.write("dusttui: Interrupted.\n")
        code = 130
    except SystemExit as done:
        code = done.code
    if code == 130:
        # Interrupted: leave now. A normal exit would first wait for the worker threads still
        # busy (parsing a 30 MB run for `get` took 0.7 s) and, under `python -m`, CPython may end
        # the process by SIGINT (-2) after a KeyboardInterrupt escaped generated code. The
        # journal is SQLite (a write cut short is rolled back) and the local engine is its own
        # process: nothing else needs the interpreter's shutdown.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(130)
    raise SystemExit(code)


if __name__ == "__main__":
    run()
