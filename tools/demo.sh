#!/usr/bin/env bash
# The main job on the sample image: build, inspect the demo qcow2, and let the spec-following guest drive the
# virtio-blk device over a scratch copy of it with verification, then check the copy as qemu-img would.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/VirtioScope.Cli -c Release -v quiet -nologo >/dev/null
vs=src/VirtioScope.Cli/bin/Release/net10.0/virtioscope
[ -f sample-images/demo.qcow2 ] || bash tools/make-sample-image.sh
scratch=$(mktemp --suffix=.qcow2)
trap 'rm -f "$scratch"' EXIT
cp sample-images/demo.qcow2 "$scratch"

"$vs" info sample-images/demo.qcow2
echo
"$vs" run "$scratch" --workload randrw --requests 200000 --queue-depth 64 --verify "$@"
echo
"$vs" check "$scratch"
