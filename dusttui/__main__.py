import sys

try:  # Ctrl-C while the command line loads: exit 130 like any interruption, no traceback
    from dusttui.cli import main
except KeyboardInterrupt:
    sys.stderr.write("dusttui: Interrupted.\n")
    sys.exit(130)

if __name__ == "__main__":
    main(prog_name="dusttui")
