#!/usr/bin/env bash
# The project's test command (README, .ci/run): build, cmocka unit tests under
# ASan+UBSan, bounded libFuzzer runs of the login parser, the relay's PDU filter and scsipub-cfgd's request parser (tests/fuzz, about 35 s),
# the host-side packaging tests (tests/pkg: make install, systemd units, the Debian
# package),
# then the lab integration tests against real LIO in a QEMU VM.
# Prints a per-suite table and a closing "N passed, M failed" line; exits non-zero on
# any failure. LAB=0 skips the lab (unit tests only).
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
log=$top/build/test-logs
mkdir -p "$log"
passed=0 failed=0
rows=()

record() { # suite passed failed
  rows+=("$(printf '%-42s %5s %5s' "$1" "$2" "$3")")
  passed=$((passed + $2)); failed=$((failed + $3))
}

echo "== deps"
scripts/deps.sh || { echo "deps failed"; echo "0 passed, 1 failed"; exit 1; }
echo "== build"
if ! make -s all tools >"$log/build.log" 2>&1; then
  cat "$log/build.log"; echo "build failed"; echo "0 passed, 1 failed"; exit 1
fi

echo "== unit tests (cmocka, ASan+UBSan)"
make -s -C tests/unit run >"$log/unit.log" 2>&1
unit_rc=$?
cat "$log/unit.log"
up=$(grep -Eo '^\[  PASSED  \] [0-9]+' "$log/unit.log" | awk '{s+=$4} END {print s+0}')
uf=$(grep -Eo '^\[  FAILED  \] [0-9]+' "$log/unit.log" | awk '{s+=$4} END {print s+0}')
if [ "$unit_rc" -ne 0 ] && [ "$uf" -eq 0 ]; then uf=1; fi
record "unit (cmocka)" "$up" "$uf"

echo "== fuzz (libFuzzer, login parser + relay PDU filter + cfgd requests, bounded runs)"
start=$(date +%s)
make -s -C tests/fuzz fuzz-smoke >"$log/fuzz.log" 2>&1
fuzz_rc=$?
grep -E '^Done [0-9]+ runs' "$log/fuzz.log"
if [ "$fuzz_rc" -eq 0 ]; then
  record "fuzz login, PDU filter, cfgd requests ($(( $(date +%s) - start ))s)" 1 0
else
  tail -n 60 "$log/fuzz.log"   # the crash report; the input is in build/fuzz/artifacts
  record "fuzz login, PDU filter, cfgd requests ($(( $(date +%s) - start ))s)" 0 1
fi

# run_script KIND SCRIPT LOGNAME: one test script that ends with "N passed, M failed";
# its output is shown and counted (a non-zero exit without a failure counts as one).
run_script() {
  local kind=$1 t=$2 name=$3 start rc line p f
  echo "== $kind: $(basename "$t" .sh)"
  start=$(date +%s)
  bash "$t" >"$log/$name.log" 2>&1
  rc=$?
  cat "$log/$name.log"
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log/$name.log" | tail -n1)
  p=$(echo "$line" | awk '{print $1+0}'); f=$(echo "$line" | awk '{print $3+0}')
  if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then f=1; fi
  record "$kind $(basename "$t" .sh) ($(( $(date +%s) - start ))s)" "${p:-0}" "${f:-0}"
}

# Host-side packaging tests (make install, units, the .deb): seconds, no VM.
for t in tests/pkg/test-*.sh; do
  run_script pkg "$t" "pkg-$(basename "$t" .sh)"
done

if [ "${LAB:-1}" != 0 ]; then
  for t in tests/lab/test-*.sh; do
    run_script lab "$t" "$(basename "$t" .sh)"
  done
fi

echo
printf '%-42s %5s %5s\n' suite pass fail
printf '%s\n' "${rows[@]}"
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
