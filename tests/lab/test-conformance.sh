#!/usr/bin/env bash
# Acceptance 4 (issue 2): libiscsi's iscsi-test-cu families for READ/WRITE 10/16,
# READ CAPACITY, INQUIRY, TEST UNIT READY and SYNCHRONIZE CACHE pass against blank.
# Prints the per-test pass/fail table. (The full -t ALL score is a benchmark:
# tests/lab/bench-conformance.sh, compared with LIO fileio in the same run.)
set -uo pipefail
source "$(dirname "$0")/common.sh"

lab_up
# With the handler's command threads (not its default), so the suite covers commands
# of one device running at once and completing out of ring order.
STACK_IO_THREADS=4 check "stack starts in the lab (scsipub-tcmu --io-threads 4)" start_stack
check "scsipub-tcmu runs 4 command threads" \
  lab_exec "grep -q '4 command threads' /var/log/scsipub-tcmu.log"

FAMILIES=SCSI.Read10,SCSI.Read16,SCSI.Write10,SCSI.Write16,SCSI.ReadCapacity10,SCSI.ReadCapacity16,SCSI.Inquiry,SCSI.TestUnitReady,SCSI.SyncCache10,SCSI.SyncCache16
out=$(iscsi-test-cu --dataloss -i iqn.2025-01.test.scsipub:cu-1 -I iqn.2025-01.test.scsipub:cu-2 \
  "iscsi://127.0.0.1:$LAB_PORT/$BLANK_IQN/0" -t "$FAMILIES" 2>&1)
rc=$?
echo "$out" | grep -E '^\s*Test: |passed|FAILED|Run Summary|tests |asserts' 
echo "--- table (test: result)"
echo "$out" | awk '/^  Test: /{t=$2} /\.\.\.passed/{if(t)print t": passed"; t=""} /\.\.\.FAILED/{if(t)print t": FAILED"; t=""}'
summary=$(echo "$out" | grep -E '^\s+tests\s' | head -n1)
echo "summary: $summary"
# CUnit: "tests  Total  Ran  Passed  Failed  Inactive"
total=$(awk '{print $2}' <<<"$summary"); ok=$(awk '{print $4}' <<<"$summary"); bad=$(awk '{print $5}' <<<"$summary")
echo "iscsi-test-cu: ${ok:-0}/${total:-0} passed, ${bad:-?} failed"
check "iscsi-test-cu ran the families (found tests)" [ "${total:-0}" -gt 0 ]
check "iscsi-test-cu: every test in the families passed" [ "$rc" -eq 0 -a "${bad:-1}" = 0 ]
check "sessions torn down after the suite" wait_until 60 guest_configfs_clean
finish
