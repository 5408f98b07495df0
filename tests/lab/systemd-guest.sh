#!/usr/bin/env bash
# Issue 9, acceptance 1 and 2: our Debian package on a real Debian 12 host with
# systemd (tests/lab/build-sysguest.sh: mmdebstrap from Debian's archive, cached under
# build/sysguest), beside an operator's LIO setup:
#   - the operator (before us): targetcli makes a fileio target and a tcmu-runner
#     user:qcow backstore exported by a second target (portal 3270), saveconfig
#     (/etc/rtslib-fb-target/saveconfig.json), tcmu-runner enabled and running;
#   - "apt install ./scsipub_*.deb" offline (the .deb is built from this tree with
#     dpkg-buildpackage, in a copy, while the guest boots); our units come up;
#     anonymous (blank) and provisioned (API, CHAP, persistent) logins work through
#     the portal; the operator's two targets still serve I/O;
#   - privilege (acceptance 2): /proc/<pid>/status of the portal (user scsipub-portal)
#     and the API (scsipub) shows no root uid and no capabilities; scsipub-cfgd refuses
#     the portal's user anything but the portal's requests; as their user (setpriv with the uid, gid, groups
#     and empty capability sets the live process has) a write to configfs, to a live
#     session's overlay and to the configfs manager's state is refused;
#   - reboot: our units, the operator's restored targets and tcmu-runner come back,
#     the provisioned session's data too;
#   - purge: the operator's objects and saveconfig.json are intact and serve I/O,
#     ours (LIO objects, units, /var/lib/scsipub, /etc/scsipub) are gone.
# All in one boot of the guest plus one reboot, under TCG.
set -uo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/syslab.sh"

T0=$SECONDS
phase() { echo "--- $* (t=$((SECONDS - T0)) s)"; }
g() { lab_exec "$*"; }

OPF=iqn.2003-01.org.example.op:fileio
OPQ=iqn.2003-01.org.example.op:qcow
OPI=iqn.2003-01.org.example.op:client
CFS=/sys/kernel/config/target
ST=/var/lib/scsipub

# --- the package, built from this tree in a copy (background, while the guest boots)
DEB_DIR=$(mktemp -d /tmp/scsipub-sysdeb.XXXXXX)
build_deb() {
  mkdir "$DEB_DIR/scsipub"
  git -C "$TOP" ls-files -z -co --exclude-standard | (cd "$TOP" && tar --null -T - -cf -) |
    tar -C "$DEB_DIR/scsipub" -xf -
  (cd "$DEB_DIR/scsipub" && dpkg-buildpackage -us -uc -b) >"$DEB_DIR/build.log" 2>&1
}
deb_start=$SECONDS
build_deb & DEB_PID=$!

P_PORTAL=$(free_port); P_OP=$(free_port); P_API=$(free_port)
LAB_PORT=$P_PORTAL
trap '[ "$FAILED" -eq 0 ] || [ ! -f "$LAB_RUN/ready" ] || { g "journalctl -b --no-pager -u \"scsipub*\" | tail -n 80"; tail -n 20 "$LAB_RUN/console.log"; }; lab_stop; rm -rf "$DEB_DIR"' EXIT
sys_up "$P_PORTAL:3260" "$P_OP:3270" "$P_API:8080" || { fail "systemd guest boots"; finish; exit 1; }
phase "guest agent up"
cat "$SYS_IMG/info" | sed 's/^/  image: /'
check "systemd reaches running/degraded" sys_wait_boot
phase "systemd up"

# --- the operator's LIO setup, before we are installed ------------------------------
op_io() { # TARGET SEED [READ-FIRST-SEED]
  "$PATTERN" -c o=$OPI "iscsi://127.0.0.1:$P_OP/$1/0" o:cap:16777216 ${3:+o:r:64:16:$3} \
    o:w:64:16:$2 o:sync o:r:64:16:$2
}
check "tcmu-runner enabled and running" g "systemctl enable --now tcmu-runner.service >/dev/null 2>&1
  systemctl is-active tcmu-runner.service"
check "targetcli: fileio target and tcmu-runner user:qcow target on :3270, saveconfig" g "set -e
  mkdir -p /srv/op && qemu-img create -q -f qcow2 -o compat=0.10 /srv/op/q.qcow2 16M
  targetcli <<EOF >/tmp/targetcli.log 2>&1 || { cat /tmp/targetcli.log; exit 1; }
/backstores/fileio create name=opfile file_or_dev=/srv/op/file.img size=16M write_back=false
/backstores/user:qcow create name=opqcow size=16M cfgstring=/srv/op/q.qcow2
/iscsi create $OPF
/iscsi create $OPQ
/iscsi/$OPF/tpg1/portals delete 0.0.0.0 3260
/iscsi/$OPF/tpg1/portals create 0.0.0.0 3270
/iscsi/$OPQ/tpg1/portals delete 0.0.0.0 3260
/iscsi/$OPQ/tpg1/portals create 0.0.0.0 3270
/iscsi/$OPF/tpg1/luns create /backstores/fileio/opfile
/iscsi/$OPQ/tpg1/luns create /backstores/user:qcow/opqcow
/iscsi/$OPF/tpg1 set attribute generate_node_acls=1 demo_mode_write_protect=0 authentication=0
/iscsi/$OPQ/tpg1 set attribute generate_node_acls=1 demo_mode_write_protect=0 authentication=0
saveconfig
EOF
  test -s /etc/rtslib-fb-target/saveconfig.json
  grep -q opqcow /etc/rtslib-fb-target/saveconfig.json"
OPSUM=$(g "sha256sum /etc/rtslib-fb-target/saveconfig.json")
check "operator's fileio target serves I/O" op_io $OPF 1
check "operator's tcmu-runner qcow target serves I/O" op_io $OPQ 2
phase "operator set up"

# --- install ------------------------------------------------------------------------
wait "$DEB_PID"; rc=$?
echo "  dpkg-buildpackage: $((SECONDS - deb_start)) s (in the background)"
[ "$rc" = 0 ] || tail -n 30 "$DEB_DIR/build.log"
DEB=$(ls "$DEB_DIR"/scsipub_*.deb 2>/dev/null | head -n1)
check "dpkg-buildpackage builds the .deb" test -n "$DEB"
[ -n "$DEB" ] || { finish; exit 1; }
cp "$DEB" "$LAB_RUN/"
# The operator's settings before the install (kept: --force-confold), and the
# database role of the API and pr-store (peer authentication as user scsipub).
check "settings file and PostgreSQL role scsipub prepared" g "set -e
  mkdir -p /etc/scsipub
  cat >/etc/scsipub/scsipub.conf <<EOF
[common]
database = postgresql:///scsipub
[cfgd]
images = $ST/catalog
[api]
listen = 0.0.0.0:8080
public = 127.0.0.1:$P_PORTAL
[portal]
public = 127.0.0.1:$P_PORTAL
images = $ST/catalog
EOF
  systemctl is-active -q postgresql.service || systemctl start postgresql.service
  runuser -u postgres -- createuser scsipub
  runuser -u postgres -- createdb -O scsipub scsipub"
# Offline: the guest's network is QEMU's restricted user network (no route out) and
# the image has no apt lists, so every dependency must already be installed.
check "apt install ./$(basename "$DEB") works offline" g "cd $LAB_RUN && \
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Options::=--force-confold ./$(basename "$DEB") >/tmp/apt.log 2>&1 || { tail -n 30 /tmp/apt.log; exit 1; }"
UNITS="scsipub-tcmu scsipub-cfgd scsipub-api scsipub-prstore scsipub-portal"
units_active() {
  g "for i in \$(seq 120); do
       n=0; for u in $UNITS; do systemctl is-active -q \$u.service && n=\$((n+1)); done
       [ \$n = 5 ] && exit 0; sleep 0.5
     done
     for u in $UNITS; do echo \"\$u: \$(systemctl is-active \$u.service)\"; done; exit 1"
}
check "our five units are active" units_active
portal_listens() { wait_until 60 g "grep -q ':0CBC 00000000:0000 0A' /proc/net/tcp"; }
check "the portal listens on 3260" portal_listens
phase "installed"

anon_io() { # SEED
  "$PATTERN" -c a=iqn.2025-01.test.scsipub:sysguest "iscsi://127.0.0.1:$P_PORTAL/$BLANK_IQN/0" \
    a:w:0:64:$1 a:r:0:64:$1
}
check "anonymous login (blank): write and read back" anon_io 11

API_KEY=$(g "runuser -u scsipub -- scsipub-api account-create sys --image-budget 67108864 2>/dev/null" | tail -n1)
check "an API account (scsipub-api account-create as user scsipub)" \
  bash -c '[[ "$1" =~ ^[0-9a-f]{32,}$ ]]' _ "$API_KEY"
API_BODY=$(curl -s -w '\n%{http_code}' --max-time 120 -X POST -H "Authorization: Bearer $API_KEY" \
  -H 'Content-Type: application/json' --data-binary '{"images":["blank"],"persistent":true}' \
  "http://127.0.0.1:$P_API/api/sessions")
echo "  POST /api/sessions → $(tail -n1 <<<"$API_BODY") $(head -n1 <<<"$API_BODY" | sed 's/"chap_secret":"[^"]*"/"chap_secret":"…"/')"
API_BODY=$(head -n1 <<<"$API_BODY")
jf() { python3 -c 'import json,sys; print(json.loads(sys.argv[2]).get(sys.argv[1]) or "")' "$1" "$API_BODY" 2>/dev/null; }
SID=$(jf id); PIQN=$(jf iqn); CU=$(jf chap_user); CS=$(jf chap_secret)
check "POST /api/sessions (persistent blank) answers a target and CHAP" test -n "$PIQN" -a -n "$CS"
PURL="iscsi://$CU%$CS@127.0.0.1:$P_PORTAL/$PIQN/0"
check "provisioned login (CHAP): write and read back" \
  "$PATTERN" -c p=iqn.2025-01.test.scsipub:sysprov "$PURL" p:w:0:32:21 p:sync p:r:0:32:21
check "operator's fileio target still serves I/O (reads its data back)" op_io $OPF 3 1
check "operator's qcow target still serves I/O (reads its data back)" op_io $OPQ 4 2
no_restarts() {
  g "bad=0; for u in $UNITS; do n=\$(systemctl show -p NRestarts --value \$u.service)
       [ \"\$n\" = 0 ] || { bad=1; echo \"  \$u restarted \$n times:\"; journalctl -b --no-pager -u \$u.service | grep -v systemd | tail -n 3; }
     done; exit \$bad"
}
check "none of our units restarted (NRestarts=0)" no_restarts
phase "logins done"

# --- acceptance 2: privilege --------------------------------------------------------
# The live process's credentials as setpriv options (uid, gid, groups; every
# capability set empty, as CapabilityBoundingSet= leaves them).
no_root_no_caps() { # UNIT
  g "p=\$(systemctl show -p MainPID --value $1.service); [ \"\$p\" -gt 0 ] || exit 1
     grep -E '^(Uid|Gid|Groups|Cap(Inh|Prm|Eff|Bnd|Amb)):' /proc/\$p/status | sed 's/^/  $1: /'
     awk '/^Uid:/ {for (i = 2; i <= 5; i++) if (\$i == 0) bad = 1}
          /^Cap(Inh|Prm|Eff|Bnd|Amb):/ {if (\$2 != \"0000000000000000\") bad = 1}
          END {exit bad}' /proc/\$p/status"
}
check "portal: no root uid, no capabilities (/proc/pid/status)" no_root_no_caps scsipub-portal
check "API: no root uid, no capabilities (/proc/pid/status)" no_root_no_caps scsipub-api

# Hold an anonymous session open so that its overlay exists while we try to write it.
pattern_bg -c h=iqn.2025-01.test.scsipub:holder "iscsi://127.0.0.1:$P_PORTAL/$BLANK_IQN/0" \
  h:w:0:8:5 wait h:r:0:8:5
check "an anonymous session held open" pattern_at_wait
g "echo '  state: '; ls -la $ST $ST/overlays $ST/sessions 2>&1 | sed 's/^/    /'"
# as_unit UNIT CMD [ns]: run CMD as the unit's process credentials (with ns, inside its
# mount namespace too: its ProtectSystem/ReadWritePaths view); 0 = it was refused
as_unit() {
  g "p=\$(systemctl show -p MainPID --value $1.service)
     u=\$(awk '/^Uid:/ {print \$2}' /proc/\$p/status); gr=\$(awk '/^Gid:/ {print \$2}' /proc/\$p/status)
     gs=\$(awk '/^Groups:/ {\$1 = \"\"; gsub(/^ +| +\$/, \"\"); gsub(/ +/, \",\"); print}' /proc/\$p/status)
     if [ -n \"\$gs\" ]; then go=--groups=\$gs; else go=--clear-groups; fi
     if ${3:+nsenter -t \$p -m --} setpriv --reuid=\$u --regid=\$gr \$go --inh-caps=-all --ambient-caps=-all --bounding-set=-all \
          --no-new-privs -- sh -c '$2' 2>/tmp/as_unit.err; then
       echo '  NOT refused: $2'; exit 1
     fi
     echo \"  refused ($1): \$(head -c 160 /tmp/as_unit.err)\""
}
as_unit_on() { # PATH UNIT CMD: as_unit, when there is a PATH to try
  [ -n "$1" ] || { echo "  nothing to try the write on"; return 1; }
  shift; as_unit "$@"
}
OVL=$(g "ls -1 $ST/overlays/*.ovl 2>/dev/null | head -n1")
CFGSTATE=$(g "ls -1d $ST/sessions/*/* 2>/dev/null | head -n1")
echo "  overlay tried: ${OVL:-none}; configfs manager state tried: ${CFGSTATE:-none}"
for u in scsipub-portal scsipub-api; do
  check "$u's user: mkdir in configfs refused" as_unit $u "mkdir $CFS/iscsi/iqn.2003-01.org.example.evil:x"
  check "$u's user: disabling the operator's TPG refused" as_unit $u "echo 0 >$CFS/iscsi/$OPF/tpgt_1/enable"
  check "$u's user: write to a live session's overlay refused" \
    as_unit_on "$OVL" $u "echo x | dd of=$OVL conv=notrunc status=none"
  check "$u's user: new file in the configfs manager's sessions/ refused" \
    as_unit $u "touch $ST/sessions/evil"
  check "$u's user: write to a provisioned session's state file refused" \
    as_unit_on "$CFGSTATE" $u "echo x >>$CFGSTATE"
  check "$u's user: new file in /run/scsipub (the configfs manager's socket directory) refused" \
    as_unit $u "touch /run/scsipub/evil"
  check "$u's user: renaming the configfs manager's sessions/ refused (sticky state directory)" \
    as_unit $u "mv $ST/sessions $ST/sessions.evil"
done
# The portal has a uid of its own, which scsipub-cfgd serves the portal's requests only.
check "the portal runs as scsipub-portal, the API as scsipub" \
  g "[ \$(stat -c %U /proc/\$(systemctl show -p MainPID --value scsipub-portal.service)) = scsipub-portal ] &&
     [ \$(stat -c %U /proc/\$(systemctl show -p MainPID --value scsipub-api.service)) = scsipub ]"
check "scsipub-portal's user: listing sessions from scsipub-cfgd refused (its requests only)" \
  as_unit scsipub-portal "scsipub-ctl list"
check "scsipub-api's user: listing sessions from scsipub-cfgd works" \
  g "p=\$(systemctl show -p MainPID --value scsipub-api.service)
     setpriv --reuid=scsipub --regid=scsipub --init-groups -- scsipub-ctl list >/dev/null"
# The portal parses internet input: its unit lets it write its own portal/ only, so it
# cannot plant an image or credentials for the root daemons to follow.
check "scsipub-portal: new file in images/ refused (it may write portal/ only)" \
  as_unit scsipub-portal "mkdir -p $ST/images/999 && touch $ST/images/999/x.img" ns
check "scsipub-portal: it still writes its own portal/ (connections.json's directory)" \
  g "p=\$(systemctl show -p MainPID --value scsipub-portal.service)
     nsenter -t \$p -m -- setpriv --reuid=scsipub-portal --regid=scsipub --clear-groups sh -c 'touch $ST/portal/.w && rm $ST/portal/.w'"
pattern_resume
check "the held anonymous session still works" pattern_join
phase "privilege checks done"

# --- reboot -------------------------------------------------------------------------
check "reboot: the guest comes back" sys_reboot
check "reboot: systemd reaches running/degraded" sys_wait_boot
phase "rebooted"
check "reboot: our five units are active again" units_active
check "reboot: the portal listens" portal_listens
check "reboot: none of our units restarted (NRestarts=0)" no_restarts
check "reboot: tcmu-runner is running" g "systemctl is-active tcmu-runner.service"
check "reboot: operator's fileio target restored and serving (reads its data back)" op_io $OPF 5 3
check "reboot: operator's qcow target restored and serving (reads its data back)" op_io $OPQ 6 4
check "reboot: anonymous login works" anon_io 12
check "reboot: the persistent provisioned session is back with its data" \
  "$PATTERN" -c p=iqn.2025-01.test.scsipub:sysprov "$PURL" p:r:0:32:21 p:w:32:8:22 p:r:32:8:22

# --- purge --------------------------------------------------------------------------
check "apt purge scsipub" g "DEBIAN_FRONTEND=noninteractive apt-get purge -y -q scsipub >/tmp/purge.log 2>&1 || { tail -n 30 /tmp/purge.log; exit 1; }"
phase "purged"
check "purge: no scsipub process left" g "! pgrep -l scsipub"
check "purge: none of our LIO objects left (targets iqn.2025-01.pub.scsipub:*, cow backstores)" g "
  ls $CFS/iscsi | sed 's/^/  iscsi: /'
  ! ls -d $CFS/iscsi/iqn.2025-01.pub.scsipub:* 2>/dev/null | grep -q . &&
  ! grep -qsE '(^|[[:space:]])cow/' $CFS/core/user_*/*/info"
check "purge: units, /var/lib/scsipub, /etc/scsipub, /run/scsipub gone" g "
  ! ls /lib/systemd/system/scsipub* 2>/dev/null | grep -q . && [ ! -e $ST ] && [ ! -e /etc/scsipub ] && [ ! -e /run/scsipub ]"
check "purge: the operator's saveconfig.json is unchanged" \
  bash -c "[ \"\$1\" = \"\$2\" ]" _ "$OPSUM" "$(g "sha256sum /etc/rtslib-fb-target/saveconfig.json")"
check "purge: operator's fileio target still serves I/O" op_io $OPF 7 5
check "purge: operator's qcow target still serves I/O" op_io $OPQ 8 6
phase "done"
finish
