"""The commented starter files `dusttui locate config --create` and `locate prices --create` write.

Each starter is valid as it is (it sets nothing but what the defaults already are) and explains
every setting in a comment, so a new user edits a line instead of reading code. Files are created
readable by their owner only (a profile's key may be added to the config later), and never
overwrite one that exists.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["STARTER_CONFIG", "STARTER_PRICES", "write_starter"]

STARTER_CONFIG = """\
# dusttui's config file (`dusttui locate config`). Every line is optional: what is not set
# keeps its default. Environment variables win over this file: DUST_API_KEY,
# DUST_WORKSPACE_ID, DUST_SPACE_ID, DUST_BASE_URL, and DUSTTUI_<SETTING> for each setting below
# (e.g. DUSTTUI_THEME=dusttui-light).

# The TUI's theme: dusttui-dark, dusttui-light, dusttui-high-contrast, or a theme file of
# yours in `dusttui locate themes`. The TUI writes this line when you pick a theme.
theme = "dusttui-dark"

# Ring the terminal bell when a watched run ends.
# bell = true

# An extra folder of NAME.dust apps for the local engine (beside its demo apps).
# apps_dir = "~/my-apps"

# How long a lost connection to a running run is retried before giving up (seconds).
# reconnect_seconds = 60.0

# Pace of the local engine's offline provider when it streams tokens (milliseconds a token).
# token_delay_ms = 15.0

# The profile used when none is named (--profile, DUSTTUI_PROFILE); none: the local engine.
# default_profile = "work"

# Remote Dust workspaces. The API key comes from DUST_API_KEY or the OS keyring (service
# "dusttui", user = the profile's name); keep it out of this file.
# [profiles.work]
# base_url = "eu"                  # "us" (https://dust.tt), "eu" (https://eu.dust.tt) or a URL
# workspace_id = "0ec9852c2f"
# space_id = "vlt_abc123"          # optional: without it the /w/{wId}/apps/... URLs are used

# Keys of the TUI: binding id = keys (`?` in the TUI lists the bindings).
# [keymap]
# launch = "f5"
"""

STARTER_PRICES = """\
# Your model prices (`dusttui locate prices`), added to the ones dusttui ships with: a model
# listed here wins. dusttui estimates what a run cost as token usage × these prices.
#
# US dollars per million tokens. The provider is the block config's provider_id, the model
# its model_id; a dated model id (gpt-4o-2024-08-06) falls back to the model without the date.

# as_of = "2025-06"

# [togetherai]
# "meta-llama/Llama-3.3-70B-Instruct-Turbo" = { prompt = 0.88, completion = 0.88 }

# [azure_openai]                    # Azure names deployments: price yours here
# "my-gpt-4o-deployment" = { prompt = 2.50, completion = 10.00 }

# [ollama]                          # your own machine: free
# "llama3.1" = { prompt = 0, completion = 0 }
"""


def write_starter(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` (mode 0600) unless a file is there; True if written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return True
