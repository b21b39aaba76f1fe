"""Exit codes of every command (ARCHITECTURE.md "Contracts"); scripts and CI rely on them."""

EXIT_OK = 0  # the run succeeded (or the command did its job)
EXIT_RUN_ERRORED = 1  # the run ended errored
EXIT_USAGE = 2  # usage, config or input error
EXIT_API = 3  # connection, auth or API error
EXIT_TIMEOUT = 4  # --timeout elapsed
EXIT_INTERRUPTED = 130  # Ctrl-C
