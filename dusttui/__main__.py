import signal
import sys


def _interrupted_while_loading(signum: int, frame: object) -> None:
    sys.stderr.write("dusttui: Interrupted.\n")
    raise SystemExit(130)


# Ctrl-C while the command line loads: exit 130 like any interruption, never a traceback.
signal.signal(signal.SIGINT, _interrupted_while_loading)
from dusttui.cli import main  # noqa: E402

# From here Ctrl-C is a KeyboardInterrupt, which every command turns into its exit 130.
signal.signal(signal.SIGINT, signal.default_int_handler)

if __name__ == "__main__":
    main(prog_name="dusttui")
