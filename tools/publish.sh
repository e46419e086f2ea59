#!/usr/bin/env bash
# Publishes the virtioscope command as a native AOT executable (no JIT at start-up or while it runs: a qemu-img-sized
# job such as converting a sparse 1 GiB image takes about 0.1 s, of which a JIT build spent 0.09 s starting).
# Usage: bash tools/publish.sh [OUTDIR]   (default: out/; needs clang and zlib1g-dev, installed here when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out}
missing=()
command -v clang >/dev/null || missing+=(clang)
[ -e /usr/include/zlib.h ] || missing+=(zlib1g-dev)
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "publish: needs ${missing[*]} (run as root to install them)" >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
dotnet publish src/VirtioScope.Cli -c Release -r linux-x64 -p:PublishAot=true -nologo -v quiet -o "$out" >&2
echo "$(cd "$out" && pwd)/virtioscope"
