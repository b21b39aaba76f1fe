#!/usr/bin/env bash
# Drive the real `dusttui` under tmux as a new user would: start it with nothing configured,
# filter to a demo app, launch it, see it succeed, quit. Exit 0 when all of that happened.
#
#   tests/tui/tmux_new_user.sh            # uses `dusttui` from PATH
#   DUSTTUI_CMD="python3 -m dusttui" tests/tui/tmux_new_user.sh
set -euo pipefail

CMD="${DUSTTUI_CMD:-dusttui}"
SESSION="dusttui-new-user-$$"
HOME_DIR="$(mktemp -d)"
# The local engine outlives dusttui (it stops by itself once idle): stop it with the session.
stop_engine() { DUSTTUI_DATA_DIR="$HOME_DIR/data" $CMD engine stop >/dev/null 2>&1 || true; }
trap 'tmux kill-session -t "$SESSION" 2>/dev/null || true; stop_engine; rm -rf "$HOME_DIR"' EXIT

screen() { tmux capture-pane -p -t "$SESSION" 2>/dev/null || true; }

# wait_for TEXT SECONDS: poll the screen until TEXT shows (fixed string), or fail loudly.
wait_for() {
  local text="$1" limit="$2" waited=0
  until screen | grep -qF -- "$text"; do
    sleep 0.1
    waited=$((waited + 1))
    if [ "$waited" -ge $((limit * 10)) ]; then
      echo "tmux_new_user: '$text' did not appear within ${limit}s; the screen was:" >&2
      screen >&2
      exit 1
    fi
  done
}

# A brand-new user: no config, no data, no remote workspace in the environment.
tmux new-session -d -s "$SESSION" -x 120 -y 36 \
  "env -u DUST_API_KEY -u DUST_WORKSPACE_ID -u DUST_SPACE_ID -u DUST_BASE_URL \
   DUSTTUI_CONFIG_DIR='$HOME_DIR/config' DUSTTUI_DATA_DIR='$HOME_DIR/data' \
   DUSTTUI_CONFIG='$HOME_DIR/config/config.toml' DUSTTUI_ENGINE_IDLE_SECONDS=30 $CMD; echo \"dusttui exited with \$?\"; sleep 5"

wait_for "local engine" 10          # the first frame
# wait_gone TEXT SECONDS: poll the screen until TEXT is no longer shown.
wait_gone() {
  local text="$1" limit="$2" waited=0
  while screen | grep -qF -- "$text"; do
    sleep 0.1
    waited=$((waited + 1))
    if [ "$waited" -ge $((limit * 10)) ]; then
      echo "tmux_new_user: '$text' was still shown after ${limit}s; the screen was:" >&2
      screen >&2
      exit 1
    fi
  done
}

# A person reads the screen before each key: pause like one (keys typed ahead of a focus
# change would go to the pane that had the focus, in any terminal app).
human() { sleep 0.3; }

wait_for "qa-demo" 15               # the embedded engine is up and lists its demo apps
human
tmux send-keys -t "$SESSION" "/"    # the footer says: / filter
human
tmux send-keys -t "$SESSION" -l "qa-demo"
wait_gone "flaky-demo" 5            # the list is filtered as they type
human
tmux send-keys -t "$SESSION" Enter
wait_for "qa-demo · hash" 5
human
tmux send-keys -t "$SESSION" "r"    # the footer says: r run
wait_for "qa-demo · ✓ succeeded" 20
wait_for "ANSWER  ✓ succeeded" 5
human
tmux send-keys -t "$SESSION" "q"
wait_for "dusttui exited with 0" 10   # quit at once (no run left running; the engine stays)
echo "tmux_new_user: started, launched qa-demo, saw it succeed, quit."
