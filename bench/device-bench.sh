#!/usr/bin/env bash
# Device throughput, side by side in one run: BenchmarkDotNet's end-to-end request benchmarks and the plain memory
# copy they are measured against, then `virtioscope run`'s own figures. Prints the 1 MiB read / memcpy ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build -c Release bench/VirtioScope.Bench -v quiet -nologo >/dev/null
out=$(mktemp -d)
# BenchmarkDotNet builds its runner from the project, so it runs from the project folder; results go to $out.
(cd bench/VirtioScope.Bench && dotnet run -c Release --no-build -- --filter '*DeviceBenchmarks*' --exporters json --artifacts "$out" >/dev/null)
report=$(find "$out" -name '*DeviceBenchmarks-report-full-compressed.json' | head -1)
python3 - "$report" <<'PY'
import json, sys
rows = {b["Method"]: b for b in json.load(open(sys.argv[1]))["Benchmarks"]}
def ns(m): return rows[m]["Statistics"]["Mean"]
def alloc(m): return rows[m].get("Memory", {}).get("BytesAllocatedPerOperation", 0)
r4k = ns("RandomRead4K_QD64")
print(f"4 KiB random reads, QD64, memory backend: {1e9 / r4k:,.0f} requests/s ({r4k:.0f} ns each), {alloc('RandomRead4K_QD64')} B allocated per request")
seq, cpy = ns("SequentialRead1M"), ns("MemoryCopy1M")
print(f"1 MiB reads: {2**20 / seq * 1e9 / 1e9:.2f} GB/s; memcpy of the same bytes: {2**20 / cpy * 1e9 / 1e9:.2f} GB/s; ratio {cpy / seq:.0%}")
PY
. bench/tool.sh
vs=$(vs_tool)
echo "virtioscope run --memory 64M --workload randread --requests 2000000 --queue-depth 64:"
"$vs" run --memory 64M --workload randread --requests 2000000 --queue-depth 64 | sed -n 's/^elapsed *//p'
echo "virtioscope run --memory 256M --workload seqread --block-size 1M --requests 4000 --queue-depth 16:"
"$vs" run --memory 256M --workload seqread --block-size 1M --requests 4000 --queue-depth 16 | sed -n 's/^elapsed *//p'
rm -rf "$out"
