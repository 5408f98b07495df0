#!/usr/bin/env bash
# Acceptance 1 (issue 2): host-side libiscsi. iscsi-ls lists blank and every catalog
# image at the public (host-forwarded) address, never LIO's loopback portal;
# iscsi-readcapacity16 on blank reports 64 MiB.
# Issue 10, the two newer anonymous target kinds: ro.testfs is listed, refuses
# WRITE(10) and WRITE(16) with DATA PROTECT / WRITE PROTECTED (7/27/00, raw sense bytes
# checked), and six sessions in two processes, all logged in at once, read the whole
# image byte for byte while configfs holds one shared backstore and one
# write-protected ACL each; multi is not listed with one catalog image (the default
# needs two); after a restart with --multi-images testfs,blank it is, and two
# connections with one InitiatorName get LUN 0 (testfs) and LUN 1 (blank) privately
# (writes on either LUN invisible to the other), and scsipub-tcmu learns LIO's CPU for
# all four disks; after logout nothing of either kind is left.
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

# ---- issue 10: ro.<name> and multi ----
P=iqn.2025-01.pub.scsipub
IMG=$(make_test_image)
IMG_BYTES=$(stat -c %s "$IMG")
ONE=iqn.2025-01.test.scsipub:same-name
CFS=/sys/kernel/config/target
# whole_image NAME: steps that read the whole image in 1 MiB commands and compare.
whole_image() {
  local lba
  for ((lba = 0; lba < IMG_BYTES / 512; lba += 2048)); do echo "$1:file:$lba:2048:$IMG"; done
}
t0=$SECONDS
check "iscsi-ls lists ro.testfs at the public address, and no multi (one catalog image)" \
  bash -c "grep -q 'Target:$P:ro.testfs Portal:127.0.0.1:$LAB_PORT,1' <<<\"\$1\" && \
    ! grep -q 'Target:$P:multi' <<<\"\$1\"" _ "$out"
ro_url="iscsi://127.0.0.1:$LAB_PORT/$P:ro.testfs/0"
check "ro.testfs: MODE SENSE says WP=1; WRITE(10) → CHECK CONDITION, DATA PROTECT / WRITE PROTECTED (sense bytes 7/27/00); WRITE(16) too; the data is unchanged" \
  "$PATTERN" -c a=$ONE "$ro_url" a:cap:"$IMG_BYTES" a:wp:1 a:sense:w10:0:7:0x27:0 \
    a:sense:w10:2048:7:0x27:0 a:sense:w:4096:7:0x27:0 $(whole_image a)

# Six sessions at once on ro.testfs: three in the background (held at "wait"), three
# in a second process while they stay logged in.
# shellcheck disable=SC2046
pattern_bg -c a=$ONE -c b=$ONE -c c=$ONE "$ro_url" $(whole_image a) $(whole_image b) \
  $(whole_image c) wait a:file:0:2048:"$IMG" b:file:2048:2048:"$IMG" c:file:30720:2048:"$IMG"
check "ro.testfs: three sessions of one process read the whole image byte for byte" pattern_at_wait
ro_acls() { lab_exec "ls $CFS/iscsi/$P:ro.testfs/tpgt_1/acls | wc -l" | tr -d '[:space:]'; }
n_bs=$(lab_exec "ls -d $CFS/core/user_*/spro* | wc -l" | tr -d '[:space:]')
n_lun=$(lab_exec "ls $CFS/iscsi/$P:ro.testfs/tpgt_1/lun | wc -l" | tr -d '[:space:]')
n_wp=$(lab_exec "grep -lx 1 $CFS/iscsi/$P:ro.testfs/tpgt_1/acls/*/lun_0/write_protect | wc -l" | tr -d '[:space:]')
prod=$(lab_exec "cat $CFS/iscsi/$P:ro.testfs/tpgt_1/attrib/prod_mode_write_protect" | tr -d '[:space:]')
echo "ro.testfs with 3 sessions: $n_bs shared backstore(s), $n_lun TPG LUN(s), $n_wp ACL(s) with write_protect=1, prod_mode_write_protect=$prod"
check "ro.testfs with 3 live sessions: 1 shared backstore, 1 TPG LUN, 3 ACLs all write_protect=1" \
  test "$n_bs $n_lun $n_wp $prod" = "1 1 3 1"
# shellcheck disable=SC2046
check "ro.testfs: three more sessions in a second process read the same bytes while the first three are logged in" \
  "$PATTERN" -c d=$ONE -c e=$ONE -c f=iqn.2025-01.test.scsipub:other "$ro_url" \
    $(whole_image d) $(whole_image e) $(whole_image f) f:sense:w10:16:7:0x27:0 d:file:0:16:"$IMG"
check "ro.testfs: the first three sessions stayed logged in meanwhile (3 ACLs)" test "$(ro_acls)" = 3
pattern_resume
check "ro.testfs: the first three sessions read again after the others left" pattern_join
ro_gone() {
  lab_exec "! ls -d $CFS/core/user_*/spro* 2>/dev/null | grep -q . && \
    [ -z \"\$(ls $CFS/iscsi/$P:ro.testfs/tpgt_1/acls)\" ] && \
    [ -z \"\$(ls $CFS/iscsi/$P:ro.testfs/tpgt_1/lun)\" ]" >/dev/null
}
check "ro.testfs: the shared backstore, its TPG LUN and every ACL are gone after the last logout" \
  wait_until 60 ro_gone
t_ro=$((SECONDS - t0))

# multi: the stack again, with --multi-images (start_stack stops the daemons first).
t1=$SECONDS
check "stack restarts with --multi-images testfs,blank" start_stack --multi-images testfs,blank
out2=$(iscsi-ls "iscsi://127.0.0.1:$LAB_PORT" 2>&1)
echo "$out2"
check "iscsi-ls lists multi at the public address" \
  grep -q "Target:$P:multi Portal:127.0.0.1:$LAB_PORT,1" <<<"$out2"
check "multi: two connections with one InitiatorName: REPORT LUNS lists 2, LUN 0 is testfs and LUN 1 a 64 MiB blank (WP=0), each connection's writes on either LUN are its own" \
  "$PATTERN" -c a=$ONE -c b=$ONE "iscsi://127.0.0.1:$LAB_PORT/$P:multi/0" \
    a:luns:2 b:luns:2 a:file:0:2048:"$IMG" a:w:0:16:3 b:file:0:2048:"$IMG" b:w:100:16:5 \
    a:file:100:16:"$IMG" a:r:0:16:3 a:lun:1 a:wp:0 a:cap:67108864 a:w:0:16:4 b:lun:1 b:z:0:16 \
    b:w:200:8:6 a:z:200:8 a:r:0:16:4 b:r:200:8:6 b:lun:0 b:r:100:16:5 b:file:0:16:"$IMG"
# placehint.h: the portal tells scsipub-tcmu LIO's CPU for each disk a connection owns,
# LUN 1's too (its log since the restart: the two multi connections only).
check "multi: scsipub-tcmu was told LIO's CPU for all four disks of the two connections" \
  lab_exec "grep \"LIO's CPU for its connection is\" /var/log/scsipub-tcmu.log |
    awk '{for (i = 1; i <= NF; i++) if (\$i ~ /^user_[0-9]+\\/sp/) print \$i}' | sort -u |
    tee /dev/stderr | wc -l | grep -qx 4"
multi_gone() {
  lab_exec "[ -z \"\$(ls $CFS/iscsi/$P:multi/tpgt_1/acls)\" ] && \
    [ -z \"\$(ls $CFS/iscsi/$P:multi/tpgt_1/lun)\" ] && \
    ! ls -d $CFS/core/user_*/sp* 2>/dev/null | grep -q ." >/dev/null
}
check "multi: its ACLs, LUNs and backstores are gone after logout" wait_until 60 multi_gone
echo "issue 10 checks took $((SECONDS - t0)) s (ro.testfs $t_ro s, multi with the restart $((SECONDS - t1)) s)"

check "anonymous sessions were torn down after logout" wait_until 60 guest_configfs_clean
finish
