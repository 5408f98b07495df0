# The checks of the shell test files (tests/lab, tests/pkg; sourced by their
# common.sh): counters, and the closing "N passed, M failed" line that
# scripts/run-tests.sh reads.
#   check DESC CMD...   run CMD; PASS when it exits 0, FAIL otherwise
#   pass DESC / fail DESC
#   finish              prints the closing line; status 0 when nothing failed
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }

check() {
  local desc=$1; shift
  if "$@"; then pass "$desc"; else fail "$desc"; fi
}

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}
