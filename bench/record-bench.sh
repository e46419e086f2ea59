#!/usr/bin/env bash
# Recording cost (issue 8 target: run --record keeps at least half of run's throughput): `virtioscope run` and
# `virtioscope run --record` on the same workload (4 KiB random reads, QD64, 64 MiB memory disk), alternating, best
# of ROUNDS each; prints both throughputs, the ratio, the trace size and replay --verify's event rate.
# Usage: bash bench/record-bench.sh [REQUESTS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-300000}
rounds=${2:-3}
. bench/tool.sh
vs=$(vs_tool)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
workload=(--memory 64M --workload randread --block-size 4k --queue-depth 64 --requests "$requests" --output json)
iops() { python3 -c 'import json,sys; print(json.load(sys.stdin)["iops"])'; }
"$vs" run "${workload[@]}" >/dev/null   # warm-up (page cache, tiered JIT of the first process is per process anyway)
best_run=0
best_rec=0
for _ in $(seq "$rounds"); do
  r=$("$vs" run "${workload[@]}" | iops)
  best_run=$(python3 -c "print(max($best_run, $r))")
  r=$("$vs" run "${workload[@]}" --record "$out/t.vstrace" | iops)
  best_rec=$(python3 -c "print(max($best_rec, $r))")
done
size=$(stat -c %s "$out/t.vstrace")
replay=$("$vs" replay "$out/t.vstrace" --verify --output json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["eventsPerSecond"], d["events"], d["identical"])')
echo "4 KiB random reads, QD64, 64 MiB memory disk, $requests requests, best of $rounds, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
python3 - "$best_run" "$best_rec" "$size" $replay <<'PY'
import sys
run, rec, size, rate, events, identical = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
print(f"  run:           {run:12,.0f} IOPS")
print(f"  run --record:  {rec:12,.0f} IOPS")
print(f"  ratio run/record: {run / rec:.2f}x the time (target: at most 2x)")
print(f"  trace: {size / 1e6:.2f} MB, {events:,} events; replay --verify: {rate:,.0f} events/s, identical: {identical}")
PY
