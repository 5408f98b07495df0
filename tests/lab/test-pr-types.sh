#!/usr/bin/env bash
# Acceptance 1 (issue 4): two initiators (open-iscsi ifaces with their own InitiatorNames,
# one CHAP user) share a provisioned LUN; LIO's SPC-4 PR emulation on our TCMU device
# enforces all six reservation types (SPC-4 §5.12.11, Table 52 "SPC-4 5.12.x"): A
# registers and reserves type T; B reads / writes, unregistered and then registered;
# A releases; B's write succeeds. Outcomes are checked against the table below.
set -uo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/api.sh"

api_lab_up
api POST /api/sessions '{"images":["blank"],"persistent":true,"ttl_s":600}'
check "provisioned session → 201" [ "$API_CODE" = 201 ]
IQN=$(json_field iqn); CU=$(json_field chap_user); CS=$(json_field chap_secret)
P=127.0.0.1:$LAB_PORT
G="source $TOP/tests/lab/pr-guest.sh"
A=iqn.2025-01.test.scsipub:node-a B=iqn.2025-01.test.scsipub:node-b
check "node A logs in (iface ifa)" lab_exec "$G; pr_login ifa $A $IQN $P $CU $CS"
check "node B logs in (iface ifb, same CHAP user)" lab_exec "$G; pr_login ifb $B $IQN $P $CU $CS"
check "both see the same LIO session target (2 I_T nexuses)" lab_exec \
  "[ \$(tr '\\0' '\\n' </sys/kernel/config/target/iscsi/$IQN/tpgt_1/dynamic_sessions | grep -c .) = 2 ]"

# type  name  B-unregistered(read write)  B-registered(read write)
TABLE="1 WE    ok conflict   ok conflict
3 EA    conflict conflict   conflict conflict
5 WE_RO ok conflict   ok ok
6 EA_RO conflict conflict   ok ok
7 WE_AR ok conflict   ok ok
8 EA_AR conflict conflict   ok ok"
printf '%-6s %-5s | %-24s | %-24s | %s\n' type name "B unregistered r/w" "B registered r/w" "after release"
while read -r t name ur uw rr rw; do
  out=$(lab_exec "$G
    pr_out ifa --register --param-sark=0xa1 &&
    pr_out ifa --reserve --param-rk=0xa1 --prout-type=$t || echo setup-failed
    echo \$(pr_io ifb read) \$(pr_io ifb write)
    pr_out ifb --register --param-sark=0xb2 || echo register-b-failed
    echo \$(pr_io ifb read) \$(pr_io ifb write)
    pr_out ifa --release --param-rk=0xa1 --prout-type=$t || echo release-failed
    pr_out ifb --register --param-rk=0xb2 --param-sark=0 || echo unregister-b-failed
    echo \$(pr_io ifb write)
    pr_out ifa --register --param-rk=0xa1 --param-sark=0 || echo unregister-a-failed")
  mapfile -t L <<<"$out"
  printf '%-6s %-5s | %-24s | %-24s | %s\n' "$t" "$name" "${L[0]}" "${L[1]}" "${L[2]}"
  check "type $t ($name): B unregistered read/write = $ur/$uw" [ "${L[0]}" = "$ur $uw" ]
  check "type $t ($name): B registered read/write = $rr/$rw" [ "${L[1]}" = "$rr $rw" ]
  check "type $t ($name): after A releases, B's write succeeds" [ "${L[2]}" = ok ]
  check "type $t ($name): every PR OUT succeeded" [ "${#L[@]}" = 3 ]
done <<<"$TABLE"
check "nodes log out" lab_exec "$G; pr_logout ifa $IQN $P && pr_logout ifb $IQN $P"

# Acceptance 2: libiscsi's PR families against a fresh provisioned LUN, two
# InitiatorNames under the session's one CHAP user (from the host, through the portal).
api POST /api/sessions '{"images":["blank"],"persistent":false,"ttl_s":600}'
check "second provisioned session → 201" [ "$API_CODE" = 201 ]
IQN2=$(json_field iqn); CU2=$(json_field chap_user); CS2=$(json_field chap_secret)
FAMILIES=SCSI.PrinReadKeys,SCSI.PrinReportCapabilities,SCSI.PrinServiceactionRange,SCSI.ProutRegister,SCSI.ProutReserve,SCSI.ProutClear,SCSI.ProutPreempt
out=$(iscsi-test-cu --dataloss -i iqn.2025-01.test.scsipub:cu-1 -I iqn.2025-01.test.scsipub:cu-2 \
  "iscsi://$CU2%$CS2@127.0.0.1:$LAB_PORT/$IQN2/0" -t "$FAMILIES" 2>&1)
rc=$?
echo "--- iscsi-test-cu PR families (test: result)"
echo "$out" | awk '/^  Test: /{t=$2} /\.\.\.passed/{if(t)print t": passed"; t=""} /\.\.\.FAILED/{if(t)print t": FAILED"; t=""}'
echo "$out" | grep -E 'FAILED|Assertion|ERROR' | head -20
summary=$(echo "$out" | grep -E '^\s+tests\s' | head -n1)
total=$(awk '{print $2}' <<<"$summary"); ok=$(awk '{print $4}' <<<"$summary"); bad=$(awk '{print $5}' <<<"$summary")
echo "iscsi-test-cu PR families: ${ok:-0}/${total:-0} passed, ${bad:-?} failed"
check "iscsi-test-cu ran the PR families (found tests)" [ "${total:-0}" -gt 15 ]
check "iscsi-test-cu: every PR test passed" [ "$rc" -eq 0 -a "${bad:-1}" = 0 ]
finish
