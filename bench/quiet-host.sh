# Sourced by the benchmark scripts. On a virtual machine whose balloon device reports free pages to the host
# (virtio_balloon with free page reporting), memory freed by one run (a deleted output file's page cache) goes back
# to the host within seconds, and the next run faults it in again at about 2 s per GiB: every tool's figure then
# flips between two modes 5x apart. Holding freed pages for a minute before reporting them makes runs comparable.
quiet_host() {
  local param=/sys/module/page_reporting/parameters/min_free_ms
  [ -e "$param" ] || return 0
  local was
  was=$(cat "$param")
  if [ "$was" -lt 60000 ] && [ -w "$param" ]; then
    echo 60000 >"$param" && echo "note: free page reporting delayed to 60 s for the benchmark ($param was $was)" >&2
    trap "echo $was >$param" EXIT
  elif [ "$was" -lt 60000 ]; then
    echo "warning: free page reporting is on ($param=$was): figures will vary by up to 5x; run as root" >&2
  fi
}
