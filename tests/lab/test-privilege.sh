#!/usr/bin/env bash
# Issue 9 acceptance 2 in the lab guest (provision.sh, no systemd): nothing that parses
# network input runs as root. The API runs as the service user (--user scsipub), the
# portal as a user of its own in its group (scsipub-portal), both with no capabilities,
# and scsipub-cfgd serves the portal's uid the portal's requests only; scsipub-cfgd, the configfs manager, is the
# root owner of every LIO object and serves them over its socket. As the service user
# (setpriv with its uid, groups and an empty capability set) a write to configfs, to
# another session's overlay or to the configfs manager's state is refused, and a user
# the daemon does not know cannot even talk to it (SO_PEERCRED).
set -uo pipefail
source "$(dirname "$0")/common.sh"

STACK_API=1
lab_up
check "stack with the API starts in the lab" start_stack
U=scsipub
G=$GUEST_STATE

# /proc/<pid>/status of a daemon: every uid non-zero, every capability set empty,
# no_new_privs set.
unprivileged() {
  lab_exec "pid=\$(pgrep -x $1 | head -n1); [ -n \"\$pid\" ] || exit 1
    s=/proc/\$pid/status; grep -E '^(Uid|Gid|Cap[A-Za-z]+|NoNewPrivs):' \$s
    awk '/^Uid:/ { for (i = 2; i <= 5; i++) if (\$i == 0) bad = 1 }
         /^Cap(Inh|Prm|Eff|Bnd|Amb):/ { if (\$2 != \"0000000000000000\") bad = 1 }
         /^NoNewPrivs:/ { if (\$2 != 1) bad = 1 }
         END { exit bad }' \$s"
}
check "scsipub-portal: no root uid, no capabilities, no_new_privs" unprivileged scsipub-portal
check "scsipub-api: no root uid, no capabilities, no_new_privs" unprivileged scsipub-api
check "scsipub-cfgd is the one that runs as root" \
  lab_exec "[ \$(stat -c %u /proc/\$(pgrep -x scsipub-cfgd)) = 0 ]"

# An anonymous session is live while its connection is: hold one open at its wait step.
url="iscsi://127.0.0.1:$LAB_PORT/$BLANK_IQN/0"
pattern_bg -c a=iqn.2025-01.test.scsipub:priv "$url" a:w:0:8:5 a:sync wait a:r:0:8:5
check "an anonymous session writes through the unprivileged portal" pattern_at_wait
ovl=$(lab_exec "ls $G/overlays/*.ovl 2>/dev/null | head -n1")
check "its overlay exists ($ovl)" test -n "$ovl"

# as_user CMD: run CMD as the service user with its groups and no capabilities.
as_user() {
  lab_exec "setpriv --reuid=$U --regid=$U --init-groups --inh-caps=-all --bounding-set=-all -- sh -c '$1'"
}
refused() { # DESC CMD: CMD as the service user must fail
  if as_user "$2" >/dev/null 2>&1; then fail "$1: refused"; else pass "$1: refused"; fi
}
refused "mkdir of a target in configfs as $U" "mkdir /sys/kernel/config/target/iscsi/iqn.2099-01.x:evil"
refused "enable=0 on the blank target's TPG as $U" \
  "echo 0 > /sys/kernel/config/target/iscsi/$BLANK_IQN/tpgt_1/enable"
refused "rmdir of the session's ACL as $U" \
  "rmdir /sys/kernel/config/target/iscsi/$BLANK_IQN/tpgt_1/acls/*"
refused "writing the live session's overlay as $U" "echo x >> $ovl"
refused "reading the live session's overlay as $U" "cat $ovl"
refused "creating a file in the overlay directory as $U" "touch $G/overlays/evil.ovl"
refused "writing the configfs manager's lock file as $U" "echo x >> $G/configfs.lock"
refused "creating a provisioned session directory as $U" "mkdir -p $G/sessions/evil"
refused "replacing the configfs manager's socket as $U" "rm -f /run/scsipub/cfgd.sock"
check "the session's ACL and overlay are untouched" \
  lab_exec "ls -d /sys/kernel/config/target/iscsi/$BLANK_IQN/tpgt_1/acls/iqn.2025-01.pub.scsipub:anon.* && test -f $ovl"
pattern_resume
check "the session reads back its data" pattern_join

# The daemon's socket: the service user may talk to it, others may not.
check "scsipub-ctl status as $U reaches scsipub-cfgd" \
  as_user "$TOP/build/configfs-manager/scsipub-ctl status"
check "a user without the socket's group cannot connect" \
  lab_exec "! setpriv --reuid=65534 --regid=65534 --clear-groups -- $TOP/build/configfs-manager/scsipub-ctl status"
# With the group (file permissions pass), the daemon's SO_PEERCRED check still refuses.
check "a uid scsipub-cfgd does not know is refused even with the group (SO_PEERCRED)" \
  lab_exec "! setpriv --reuid=65534 --regid=65534 --groups=\$(getent group $U | cut -d: -f3) -- $TOP/build/configfs-manager/scsipub-ctl status &&
    grep -q 'connection from pid [0-9]* uid 65534 refused' /var/log/scsipub-cfgd.log"
# The portal has a uid of its own (provision.sh: scsipub-portal, in the scsipub group),
# which scsipub-cfgd serves the portal's requests only (--portal-users): a portal taken
# over could not list or end other people's sessions.
P=scsipub-portal
as_portal() { lab_exec "setpriv --reuid=$P --regid=$U --init-groups --inh-caps=-all --bounding-set=-all -- $1"; }
check "the portal runs as its own user ($P), the API as $U" \
  lab_exec "[ \$(stat -c %U /proc/\$(pgrep -x scsipub-portal)) = $P ] && [ \$(stat -c %U /proc/\$(pgrep -x scsipub-api)) = $U ]"
check "scsipub-ctl status as the portal's user reaches scsipub-cfgd" \
  as_portal "$TOP/build/configfs-manager/scsipub-ctl status"
check "listing the sessions as the portal's user is refused (its requests only)" \
  lab_exec "! setpriv --reuid=$P --regid=$U --init-groups -- $TOP/build/configfs-manager/scsipub-ctl list &&
    grep -q 'uid [0-9]* may make the portal.s requests only' /var/log/scsipub-cfgd.log"
check "scsipub-ctl list (root) shows no session after the logout" \
  wait_until 30 lab_exec "$TOP/build/configfs-manager/scsipub-ctl list | grep -q '^0 anonymous session'"
finish
