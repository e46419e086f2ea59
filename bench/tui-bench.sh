#!/usr/bin/env bash
# Device throughput with the debugger's TUI attached (issue 7 target: at least half of `run`'s on the same
# workload). The TUI runs in a detached tmux terminal: it starts paused (after bus discovery), F5 continues, and after a second of warm-up
# the script reads the status line's completed-request count twice, SECONDS apart (two capture-pane calls, so the
# measuring costs next to nothing); the rate between them is compared with `run`'s throughput on the same workload
# (4 KiB random reads, QD64, 64 MiB memory disk), best of ROUNDS each.
# WARMUP (default 1) is how long after F5 the first reading is taken: the first seconds of a continue run partly on
# tier-0 JIT code (about 4 s here under load), so a longer WARMUP shows the steady state.
# Usage: bash bench/tui-bench.sh [SECONDS] [ROUNDS] [WARMUP]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-3}
rounds=${2:-3}
warmup=${3:-1}
requests=50000000
command -v tmux >/dev/null || { echo "tmux is needed (apt-get install tmux)" >&2; exit 2; }
. bench/tool.sh
vs=$(vs_tool)
sock="vscope-bench-$$"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true' EXIT
workload=(--memory 64M --workload randread --block-size 4k --queue-depth 64 --requests "$requests")

completed() { tmux -L "$sock" capture-pane -p -t b | grep -o 'completions [0-9]*' | head -1 | cut -d' ' -f2; }

tui_once() {
  tmux -L "$sock" new-session -d -s b -x 160 -y 50 "$vs debug ${workload[*]}"
  until tmux -L "$sock" capture-pane -p -t b | grep -q "paused before access"; do sleep 0.05; done
  sleep 0.5
  # A key sent before the TUI reads its input is lost: send F5 until the status line says it runs.
  until tmux -L "$sock" capture-pane -p -t b | grep -q "^running"; do tmux -L "$sock" send-keys -t b F5; sleep 0.3; done
  sleep "$warmup"
  local t1 c1 t2 c2
  t1=$(date +%s.%N); c1=$(completed)
  sleep "$seconds"
  t2=$(date +%s.%N); c2=$(completed)
  tmux -L "$sock" send-keys -t b F6
  sleep 0.2
  tmux -L "$sock" send-keys -t b q
  sleep 0.3
  tmux -L "$sock" kill-server 2>/dev/null || true
  python3 -c "print(($c2 - $c1) / ($t2 - $t1))"
}

run_once() { "$vs" run "${workload[@]/$requests/2000000}" --output json | python3 -c 'import json,sys; print(json.load(sys.stdin)["iops"])'; }

# The engine without the TUI: debug --batch with one continue (wall time of the whole process, startup included).
batch_once() {
  local t1 t2
  t1=$(date +%s.%N)
  echo continue | "$vs" debug "${workload[@]/$requests/2000000}" --batch - >/dev/null
  t2=$(date +%s.%N)
  python3 -c "print(2000000 / ($t2 - $t1))"
}

run_once >/dev/null
best_run=0
best_tui=0
best_batch=0
for _ in $(seq "$rounds"); do
  best_run=$(python3 -c "print(max($best_run, $(run_once)))")
  best_batch=$(python3 -c "print(max($best_batch, $(batch_once)))")
  best_tui=$(python3 -c "print(max($best_tui, $(tui_once)))")
done
echo "4 KiB random reads, QD64, 64 MiB memory disk (run: 2,000,000 requests; TUI: rate over $seconds s after $warmup s), best of $rounds, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
python3 - "$best_run" "$best_tui" "$best_batch" <<'PY'
import sys
run, tui, batch = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print(f"  run:                  {run:12,.0f} requests/s")
print(f"  debug --batch, continue (no TUI, startup included): {batch:,.0f} requests/s ({batch / run:.0%})")
print(f"  debug TUI, F5 (tmux): {tui:12,.0f} requests/s")
print(f"  TUI / run: {tui / run:.0%} (target: at least 50%)")
PY
