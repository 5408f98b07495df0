#!/usr/bin/env bash
# Acceptance 2 (issue 2): two initiators with different InitiatorNames are logged into
# blank at the same time, write different patterns to the same LBAs, and each reads
# back only its own; after logout the overlay files and configfs objects are gone.
# While both are logged in, `targetcli ls` in the guest shows our objects (the target,
# both connections' ACLs — named after the identity the portal gave each connection,
# iqn.2025-01.pub.scsipub:anon.<hex> (issue 8) — both TPG LUNs and both user:cow
# backstores).
# Issue 10, pre-made sessions: restarted with scsipub-cfgd --pool blank=2, the pool
# fills (two ACLs and overlays with no login); two initiators log in at once, each
# gets one of the pre-made ACLs (the cfgd log says "pre-made"), reads zeros where the
# other wrote, and its own pattern back; after logout the pool is back to two, none of
# them the ACL of a session that ended, and no other overlay is left.
set -uo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/targetcli.sh"

lab_up
check "system D-Bus in the guest (targetcli lists user:cow through it)" guest_start_dbus
check "stack starts in the lab" start_stack

url="iscsi://127.0.0.1:$LAB_PORT/$BLANK_IQN/0"
A=iqn.2025-01.test.scsipub:init-a
B=iqn.2025-01.test.scsipub:init-b
pattern_bg -c a=$A -c b=$B "$url" \
  a:cap:67108864 b:cap:67108864 \
  a:w:0:128:11 b:w:0:128:22 a:w:131000:72:11 b:w:131000:72:22 \
  wait \
  a:r:0:128:11 b:r:0:128:22 a:r:131000:72:11 b:r:131000:72:22 \
  a:z:4096:8 b:z:4096:8
check "A and B are logged in at once and have written" pattern_at_wait
check "two sessions: two overlays, two ACLs, two user backstores" lab_exec "
  [ \$(ls $GUEST_STATE/overlays/*.ovl | wc -l) -eq 2 ] &&
  [ \$(ls /sys/kernel/config/target/iscsi/$BLANK_IQN/tpgt_1/acls | wc -l) -eq 2 ] &&
  [ \$(find /sys/kernel/config/target/core -mindepth 2 -maxdepth 2 -type d -path '*/user_*/*' | wc -l) -eq 2 ]"
check "both backstores have the kernel's ALUA off (alua_support 0, no target port group on their LUNs)" lab_exec "
  n=0; for d in /sys/kernel/config/target/core/user_*/*/; do [ -f \$d/enable ] || continue;
    [ \$(cat \$d/attrib/alua_support) = 0 ] || exit 1; n=\$((n + 1)); done; [ \$n -eq 2 ] || exit 1;
  n=0; for l in /sys/kernel/config/target/iscsi/$BLANK_IQN/tpgt_1/lun/lun_*; do
    [ -f \$l/alua_tg_pt_gp ] && ! grep -q default_tg_pt_gp \$l/alua_tg_pt_gp || exit 1;
    n=\$((n + 1)); done; [ \$n -eq 2 ]"
tcli=$(guest_targetcli_ls 2>&1)
echo "$tcli"
check "targetcli ls shows the blank target with both connections' ACLs (per-connection names)" \
  bash -c "grep -q 'o- $BLANK_IQN' <<<\"\$1\" && [ \$(grep -cE 'o- iqn\.2025-01\.pub\.scsipub:anon\.[0-9a-f]{32} ' <<<\"\$1\") -eq 2 ] && ! grep -q 'o- $A ' <<<\"\$1\"" _ "$tcli"
check "targetcli ls shows two user:cow backstores and two TPG LUNs linked to them" \
  bash -c "grep -q 'o- user:cow .*Storage Objects: 2' <<<\"\$1\" && [ \$(grep -cE 'o- lun[0-9]+ .*\\[user/sp[0-9a-f]{16} ' <<<\"\$1\") -eq 2 ]" _ "$tcli"
pattern_resume
check "each initiator reads back only its own pattern (same LBAs)" pattern_join
check "after logout the configfs objects are gone" wait_until 60 guest_configfs_clean
check "after logout the overlay and bitmap files are gone" wait_until 60 guest_overlays_gone
check "a fresh login of A starts from a zeroed overlay" "$PATTERN" -c a=$A "$url" a:z:0:128
check "and is torn down again" wait_until 60 guest_configfs_clean

# ---- pre-made sessions (scsipub-cfgd --pool) ----------------------------------------
TPG=/sys/kernel/config/target/iscsi/$BLANK_IQN/tpgt_1
n_acls() { lab_exec "ls $TPG/acls | wc -l"; }
n_ovl() { lab_exec "ls $GUEST_STATE/overlays/*.ovl 2>/dev/null | wc -l"; }
pool_full() { [ "$(n_acls)" = 2 ] && [ "$(n_ovl)" = 2 ]; }
refilled() { [ "$(n_acls)" = 4 ]; }
pool_stack() { STACK_POOL=blank=2 start_stack; }
# None of the ACLs now in the TPG is one of those in $1 (sessions that ended).
none_of() { ! comm -12 <(sort <<<"$1") <(lab_exec "ls $TPG/acls" | sort) | grep -q .; }
check "restarted with --pool blank=2" pool_stack
check "the pool fills: two ACLs and two overlays before any login" wait_until 60 pool_full
pre=$(lab_exec "ls $TPG/acls" | sort)
echo "pre-made: $(tr '\n' ' ' <<<"$pre")"
pattern_bg -c a=$A -c b=$B "$url" a:w:0:64:33 b:z:0:64 b:w:0:64:44 a:r:0:64:33 wait b:r:0:64:44
check "two logins at once on pre-made sessions: B reads zeros where A wrote, each its own" \
  pattern_at_wait
check "the cfgd log names both sessions pre-made, with the ACLs that waited" lab_exec "
  n=0; for a in $(tr '\n' ' ' <<<"$pre"); do
    grep -q \"(as \$a) .* pre-made\" /var/log/scsipub-cfgd.log && n=\$((n + 1)); done; [ \$n = 2 ]"
check "while they are logged in the pool is refilled (four ACLs)" wait_until 60 refilled
pattern_resume
check "each read back its own pattern" pattern_join
check "after logout: the pool again, two ACLs and two overlays" wait_until 60 pool_full
check "none of them is a session that ended" none_of "$pre"
finish
