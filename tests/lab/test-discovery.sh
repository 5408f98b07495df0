#!/usr/bin/env bash
# Acceptance 1 (issue 2): host-side libiscsi. iscsi-ls lists blank and every catalog
# image at the public (host-forwarded) address, never LIO's loopback portal;
# iscsi-readcapacity16 on blank reports 64 MiB.
set -uo pipefail
source "$(dirname "$0")/common.sh"

make_test_image >/dev/null
lab_up
check "stack starts in the lab" start_stack

out=$(iscsi-ls -s "iscsi://127.0.0.1:$LAB_PORT" 2>&1)
echo "$out"
check "iscsi-ls lists blank at the public address" \
  grep -q "Target:$BLANK_IQN Portal:127.0.0.1:$LAB_PORT,1" <<<"$out"
check "iscsi-ls lists the catalog image at the public address" \
  grep -q "Target:iqn.2025-01.pub.scsipub:image.testfs Portal:127.0.0.1:$LAB_PORT,1" <<<"$out"
check "iscsi-ls never advertises LIO's loopback portal" \
  bash -c "! grep -q ':3262' <<<\"\$1\"" _ "$out"
check "iscsi-ls shows blank's LUN 0 (logs in through the portal)" \
  bash -c "grep -A3 'Target:$BLANK_IQN' <<<\"\$1\" | grep -q 'Lun:0'" _ "$out"

cap=$(iscsi-readcapacity16 "iscsi://127.0.0.1:$LAB_PORT/$BLANK_IQN/0" 2>&1)
echo "$cap"
check "iscsi-readcapacity16 on blank says 64 MiB" \
  bash -c "grep -Eq 'Total size:67108864\b|^Total size: *67108864$' <<<\"\$1\"" _ "$cap"
check "anonymous sessions were torn down after logout" wait_until 60 guest_configfs_clean
finish
