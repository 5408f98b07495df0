# Host-side packaging tests (no VM): the checks and counters of tests/check.sh, and
# helpers of their own. Sourced as tests/pkg/common.sh from the repository's top.
# shellcheck source=tests/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/../check.sh"
# The installed units with /usr/sbin/ pointed at ROOT's copies, in a new directory
# (printed): systemd-analyze verify checks that ExecStart= programs exist on the
# host, and --root= would need a whole system tree.
units_for_verify() { # ROOT UNITDIR
  local root=$1 dir=$2 v u
  v=$(mktemp -d)
  for u in "$dir"/*; do sed "s#/usr/sbin/#$root/usr/sbin/#g" "$u" >"$v/${u##*/}"; done
  echo "$v"
}
# verify_units DIR: systemd-analyze verify every unit; any message is a failure
# (unknown keys and bad values are only warnings with exit status 0).
verify_units() {
  local out
  out=$(systemd-analyze verify --man=no "$1"/*.service "$1"/*.target 2>&1) || { echo "$out"; return 1; }
  [ -z "$out" ] || { echo "$out"; return 1; }
}
