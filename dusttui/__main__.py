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
        # Under `python -m`, a KeyboardInterrupt that escaped an exec() of generated code (a
        # dataclass built by a command's lazy import) leaves CPython ending the process by SIGINT
        # (-2) whatever the exit code; an exec of our own clears that.
        exec("")
    raise SystemExit(code)


if __name__ == "__main__":
    run()
