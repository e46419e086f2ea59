#!/usr/bin/env bash
# Side-by-side convert benchmark: virtioscope vs qemu-img on the same files, in one run.
# Usage: bench/convert-bench.sh [WORKDIR]   (needs ~5 GiB free; qemu-img from Debian's qemu-utils)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-$(mktemp -d /tmp/vs-bench.XXXXXX)}
mkdir -p "$work"
# Published ReadyToRun, as the tool is installed: a JIT-only build spends ~0.1 s of each run compiling, which on the
# sparse cases is most of qemu-img's whole run time.
dotnet publish -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true "$here/../src/VirtioScope.Cli" -o "$work/bin" >"$work/build.log" || { cat "$work/build.log"; exit 1; }
vs=("$work/bin/virtioscope")

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


printf "%-34s %10s %10s %8s %12s\n" "case (best of 2)" "qemu-img s" "vscope s" "ratio" "vscope MiB"
# Each case runs twice per tool in alternating order (qemu, ours, ours, qemu) and keeps each tool's best time, so
# neither tool always inherits the other's dirty page cache; sync before every run.
best() { python3 -c "import sys; print(min(float(a) for a in sys.argv[1:]))" "$@"; }
bench() {
  local label=$1 qargs=$2 vargs=$3 q1 q2 v1 v2 m1 m2
  rm -f "$work/out.q" "$work/out.v"; sync
  read -r q1 _ <<<"$(measure qemu-img $qargs "$work/out.q")"
  rm -f "$work/out.v"; sync
  read -r v1 m1 <<<"$(measure "${vs[@]}" $vargs "$work/out.v")"
  rm -f "$work/out.v"; sync
  read -r v2 m2 <<<"$(measure "${vs[@]}" $vargs "$work/out.v")"
  rm -f "$work/out.q"; sync
  read -r q2 _ <<<"$(measure qemu-img $qargs "$work/out.q")"
  local qs vsec ratio
  qs=$(best "$q1" "$q2"); vsec=$(best "$v1" "$v2")
  ratio=$(python3 -c "print(f'{$qs/$vsec:.2f}x')")
  printf "%-34s %10s %10s %8s %12s\n" "$label" "$qs" "$vsec" "$ratio" "$(( (m1 > m2 ? m1 : m2) / 1024 ))"
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
bench "raw->qcow2 -c zlib 512M text" "convert -c -O qcow2 $work/text.raw" "convert -c -O qcow2 $work/text.raw"
bench "raw->qcow2 -c zstd 512M text" "convert -c -O qcow2 -o compression_type=zstd $work/text.raw" "convert -c -O qcow2 -o compression_type=zstd $work/text.raw"

# info and map of a 1 TiB sparse image read only metadata.
rm -f "$work/tera.qcow2"
"${vs[@]}" create -q -f qcow2 "$work/tera.qcow2" 1T
qemu-io -c "write -P 1 512G 64k" "$work/tera.qcow2" >/dev/null
read -r is im <<<"$(measure "${vs[@]}" info "$work/tera.qcow2")"
read -r ms mm <<<"$(measure "${vs[@]}" map --output json "$work/tera.qcow2")"
echo "1 TiB sparse qcow2: info ${is}s (${im} KiB peak), map ${ms}s (${mm} KiB peak)"
echo "cores: $(nproc); work dir: $work"
