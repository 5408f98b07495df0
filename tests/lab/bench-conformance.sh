#!/usr/bin/env bash
# Benchmark (not a test): libiscsi's full conformance suite, `iscsi-test-cu --dataloss
# -t ALL`, against our blank disk (portal → LIO → scsipub-tcmu COW; one private disk
# per InitiatorName), against a provisioned LUN (one COW disk shared by the session's
# initiators, with CHAP: the two-initiator PR/RESERVE tests can run), and against the
# peer measured in the same run: a LIO fileio LUN of the same size in the same VM.
# Both runs go from inside the guest over loopback, so the paths are alike.
# Prints both scores and their ratio. Usage: tests/lab/bench-conformance.sh
set -uo pipefail
source "$(dirname "$0")/common.sh"
make -s -C "$TOP" all tools >/dev/null || exit 1

lab_up
start_stack || { echo "stack did not start"; exit 1; }
PEER=iqn.2025-01.pub.scsipub:peer-fileio
lab_exec "set -e; modprobe target_core_file; cd /sys/kernel/config/target
  mkdir -p core/fileio_9/peer
  truncate -s 64M /var/lib/scsipub/peer.img
  echo fd_dev_name=/var/lib/scsipub/peer.img,fd_dev_size=67108864 >core/fileio_9/peer/control
  echo 1 >core/fileio_9/peer/enable
  t=iscsi/$PEER/tpgt_1; mkdir -p \$t; mkdir \$t/lun/lun_0
  ln -s /sys/kernel/config/target/core/fileio_9/peer \$t/lun/lun_0/peer
  mkdir \$t/np/127.0.0.1:3263
  echo 1 >\$t/attrib/generate_node_acls; echo 0 >\$t/attrib/demo_mode_write_protect
  echo 0 >\$t/attrib/authentication; echo 1 >\$t/enable" || { echo "peer setup failed"; exit 1; }

# A provisioned session (prov.h) on a blank 64 MiB LUN, reached through the portal.
PROV_ID=bench PROV_USER=ubench PROV_SECRET=benchsecret1234
lab_exec "$TOP/build/configfs-manager/scsipub-ctl session-create $GUEST_STATE $PROV_ID \
  $PROV_USER $PROV_SECRET blank:67108864" >/dev/null || { echo "provisioned session setup failed"; exit 1; }

run_cu() { # URL → prints "passed total"
  lab_exec "iscsi-test-cu --dataloss -i iqn.2025-01.test.scsipub:bench-1 \
    -I iqn.2025-01.test.scsipub:bench-2 '$1' -t ALL 2>&1" >"$2"
  awk '$1=="tests"{print $4, $2; exit}' "$2"
}
d=$(mktemp -d)
read -r ours_ok ours_total < <(run_cu "iscsi://127.0.0.1:$LAB_PORT/$BLANK_IQN/0" "$d/ours.txt")
read -r prov_ok prov_total < <(run_cu \
  "iscsi://$PROV_USER%$PROV_SECRET@127.0.0.1:$LAB_PORT/iqn.2025-01.pub.scsipub:s.$PROV_ID/0" "$d/prov.txt")
read -r peer_ok peer_total < <(run_cu "iscsi://127.0.0.1:3263/$PEER/0" "$d/peer.txt")
# Suite.Test of every failed test: CUnit ends a failed test's output with a line that
# ends in a bare FAILED (the "[FAILED] ..." lines are assertion messages).
failed() { awk '/^Suite: /{s=$2} /^  Test: /{t=$2} /FAILED$/ && !/\[FAILED\]/{print s"."t}' "$1" | sort -u; }
echo "--- failed tests, scsipub blank:"; failed "$d/ours.txt"
echo "--- failed tests, scsipub provisioned:"; failed "$d/prov.txt"
echo "--- failed tests, LIO fileio:";    failed "$d/peer.txt"
printf '%-28s %8s %8s\n' backstore passed total
printf '%-28s %8s %8s\n' "scsipub blank (TCMU COW)" "${ours_ok:-0}" "${ours_total:-0}"
printf '%-28s %8s %8s\n' "scsipub provisioned (shared)" "${prov_ok:-0}" "${prov_total:-0}"
printf '%-28s %8s %8s\n' "LIO fileio (peer)" "${peer_ok:-0}" "${peer_total:-0}"
awk -v a="${ours_ok:-0}" -v b="${peer_ok:-0}" 'BEGIN{ if (b > 0) printf "ratio scsipub blank/fileio passed: %.3f\n", a / b }'
awk -v a="${prov_ok:-0}" -v b="${peer_ok:-0}" 'BEGIN{ if (b > 0) printf "ratio scsipub provisioned/fileio passed: %.3f\n", a / b }'
rm -rf "$d"
