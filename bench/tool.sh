# Sourced by the benchmark scripts: vs_tool prints the path of the tool as it is installed (native AOT, built by
# tools/publish.sh), published once per source state into $VS_BENCH_BIN (default /tmp/virtioscope-bench); $VS_BIN
# names a binary to use instead.
vs_tool() {
  if [ -n "${VS_BIN:-}" ]; then
    echo "$VS_BIN"
    return
  fi
  local root dir stamp
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  dir=${VS_BENCH_BIN:-/tmp/virtioscope-bench}
  stamp="$(git -C "$root" rev-parse HEAD 2>/dev/null)-$(git -C "$root" diff HEAD -- src Directory.Build.props Directory.Packages.props 2>/dev/null | md5sum | cut -c1-12)"
  if [ ! -x "$dir/virtioscope" ] || [ "$(cat "$dir/.stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "publishing the native AOT tool into $dir (about two minutes)" >&2
    bash "$root/tools/publish.sh" "$dir" >/dev/null || return 1
    echo "$stamp" >"$dir/.stamp"
  fi
  echo "$dir/virtioscope"
}
