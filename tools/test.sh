#!/usr/bin/env bash
# The test command: installs the Debian packages the tests need when they are missing (as root), then runs every
# test project and ends with one line "N passed, N failed". Usage: bash tools/test.sh [extra dotnet test args]
set -uo pipefail
cd "$(dirname "$0")/.."

packages=(qemu-utils clang zlib1g-dev dosfstools mtools fdisk tmux fuse3 gdisk fio e2fsprogs python3-libvhdi qemu-system-x86 linux-image-amd64 busybox-static cpio)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: missing Debian packages: ${missing[*]}; run as root to install them" >&2
    exit 1
  fi
  echo "test.sh: installing ${missing[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
dotnet test VirtioScope.sln -c Release "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# dotnet test prints one summary per test assembly: "Passed!  - Failed: 0, Passed: 12, Skipped: 0, ...".
read -r passed failed < <(grep -E '^(Passed|Failed)!' "$log" | sed -E 's/.*Failed: *([0-9]+), Passed: *([0-9]+).*/\2 \1/' \
  | awk '{p+=$1; f+=$2} END {print p+0, f+0}')
assemblies=$(grep -cE '^(Passed|Failed)!' "$log")
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # a build or runner failure: never report it as green
fi
echo "test assemblies: $assemblies"
echo "$passed passed, $failed failed"
exit "$status"
