# Host-side packaging tests (no VM): counters and the closing "N passed, M failed"
# line that scripts/run-tests.sh reads, as in tests/lab/common.sh.
PASSED=0 FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }
# check DESC CMD...: run CMD, pass if it exits 0.
check() {
  local desc=$1; shift
  if "$@"; then pass "$desc"; else fail "$desc"; fi
}
finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}
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
