#!/usr/bin/env bash
# Side-by-side convert benchmark: virtioscope vs qemu-img on the same files, in one run.
# Usage: bench/convert-bench.sh [WORKDIR]   (needs ~5 GiB free; qemu-img from Debian's qemu-utils)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-$(mktemp -d /tmp/vs-bench.XXXXXX)}
mkdir -p "$work"
# Published native AOT, as the tool is installed (tools/publish.sh): a JIT build spends ~0.09 s of each run starting,
# which on the sparse cases is most of qemu-img's whole run time.
# shellcheck source=tool.sh
. "$here/tool.sh"
vs=("$(vs_tool)")
# shellcheck source=quiet-host.sh
. "$here/quiet-host.sh"
quiet_host

python3 - "$work" <<'PY'
import os, sys, random
work = sys.argv[1]
mib = 1 << 20
rnd = random.Random(42)
def make(name, size, fill):
    path = os.path.join(work, name)
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    with open(path, "wb") as f:
        f.truncate(size)
        for i in range(size // mib):
            block = fill(i)
            if block is not None:
                f.seek(i * mib)
                f.write(block)
# 1 GiB with 25% random data (every 4th MiB), the rest holes.
make("sparse25.raw", 1024 * mib, lambda i: os.urandom(mib) if i % 4 == 0 else None)
# 1 GiB of dense random data.
make("dense.raw", 1024 * mib, lambda i: os.urandom(mib))
# 512 MiB of compressible data: text-like runs with some noise.
words = [b"virtio ", b"block ", b"queue ", b"sector ", b"qcow2 ", b"cluster ", b"refcount "]
def text(i):
    r = random.Random(i)
    out = bytearray()
    while len(out) < mib:
        out += r.choice(words)
        if r.random() < 0.02:
            out += os.urandom(8)
    return bytes(out[:mib])
make("text.raw", 512 * mib, text)
PY

# run LABEL CMD...: prints seconds and peak RSS (MiB)
measure() {
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt" || { cat "$work/stderr.txt" >&2; return 1; }
  tail -1 "$work/time.txt"
}


printf "%-34s %10s %10s %8s %12s\n" "case (median)" "qemu-img s" "vscope s" "ratio" "vscope MiB"
# Each case runs ROUNDS times per tool, alternating (qemu, ours, qemu, ours, ...), sync before every run, and keeps
# each tool's median: single runs on a shared virtual machine vary too much to compare.
median() { python3 -c "import sys, statistics; print(f'{statistics.median(float(a) for a in sys.argv[1:]):.3f}')" "$@"; }
bench() {
  local label=$1 qargs=$2 vargs=$3 rounds=${4:-5} q v m peak=0 qs=() vs_=()
  for _ in $(seq "$rounds"); do
    rm -f "$work/out.q"; sync
    read -r q _ <<<"$(measure qemu-img $qargs "$work/out.q")"
    rm -f "$work/out.v"; sync
    read -r v m <<<"$(measure "${vs[@]}" $vargs "$work/out.v")"
    qs+=("$q"); vs_+=("$v"); peak=$(( m > peak ? m : peak ))
  done
  local qm vm ratio
  qm=$(median "${qs[@]}"); vm=$(median "${vs_[@]}")
  ratio=$(python3 -c "print(f'{$qm/$vm:.2f}x')")
  printf "%-34s %10s %10s %8s %12s\n" "$label" "$qm" "$vm" "$ratio" "$(( peak / 1024 ))"
  qemu-img compare -q "$work/out.q" "$work/out.v" || echo "  !! outputs differ for $label"
}

bench "raw->qcow2 1G 25% data" "convert -O qcow2 $work/sparse25.raw" "convert -O qcow2 $work/sparse25.raw"
bench "raw->qcow2 1G dense" "convert -O qcow2 $work/dense.raw" "convert -O qcow2 $work/dense.raw"
qemu-img convert -O qcow2 "$work/sparse25.raw" "$work/sparse25.qcow2"
qemu-img convert -O qcow2 "$work/dense.raw" "$work/dense.qcow2"
bench "qcow2->raw 1G 25% data" "convert -O raw $work/sparse25.qcow2" "convert -O raw $work/sparse25.qcow2"
bench "qcow2->raw 1G dense" "convert -O raw $work/dense.qcow2" "convert -O raw $work/dense.qcow2"
bench "raw->vhdx 1G 25% data" "convert -O vhdx $work/sparse25.raw" "convert -O vhdx $work/sparse25.raw"
bench "raw->vhdx 1G dense" "convert -O vhdx $work/dense.raw" "convert -O vhdx $work/dense.raw"
qemu-img convert -O vhdx "$work/sparse25.raw" "$work/sparse25.vhdx"
qemu-img convert -O vhdx "$work/dense.raw" "$work/dense.vhdx"
bench "vhdx->raw 1G 25% data" "convert -O raw $work/sparse25.vhdx" "convert -O raw $work/sparse25.vhdx"
bench "vhdx->raw 1G dense" "convert -O raw $work/dense.vhdx" "convert -O raw $work/dense.vhdx"
bench "raw->qcow2 -c zlib 512M text" "convert -c -O qcow2 $work/text.raw" "convert -c -O qcow2 $work/text.raw" 3
bench "raw->qcow2 -c zstd 512M text" "convert -c -O qcow2 -o compression_type=zstd $work/text.raw" "convert -c -O qcow2 -o compression_type=zstd $work/text.raw" 3

# info and map of a 1 TiB sparse image read only metadata.
rm -f "$work/tera.qcow2"
"${vs[@]}" create -q -f qcow2 "$work/tera.qcow2" 1T
qemu-io -c "write -P 1 512G 64k" "$work/tera.qcow2" >/dev/null
read -r is im <<<"$(measure "${vs[@]}" info "$work/tera.qcow2")"
read -r ms mm <<<"$(measure "${vs[@]}" map --output json "$work/tera.qcow2")"
echo "1 TiB sparse qcow2: info ${is}s (${im} KiB peak), map ${ms}s (${mm} KiB peak)"
echo "cores: $(nproc); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); work dir: $work"
