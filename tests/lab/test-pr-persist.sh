#!/usr/bin/env bash
# Acceptance 3 (issue 4): Persistent Reservation state survives (a) kill -9 of every
# daemon (scsipub-tcmu, -api, -prstore, -portal, PostgreSQL) and a restart, (b) the loss
# of the target and backstore from configfs (restored from PostgreSQL before logins),
# (c) a power-off and reboot of the lab VM (state on a disk image). Each time
# `sg_persist --read-keys` and `--read-reservation` print exactly what they printed
# before, and the restored registrations still act: B (registered) may write under
# A's Write Exclusive – Registrants Only reservation, C (unregistered) may not.
set -uo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/api.sh"

DISK=$(mktemp "$TOP/build/lab/prdisk.XXXXXX")
truncate -s 768M "$DISK" && mkfs.ext4 -q -F "$DISK"
export LAB_DISK=$DISK
LAB_API_PORT=$(free_port); export LAB_API_PORT
lab_up
trap '[ "$FAILED" -eq 0 ] || lab_logs; lab_stop; rm -f "$DISK"' EXIT
mount_state() { lab_exec "modprobe virtio_blk; for i in \$(seq 50); do [ -b /dev/vda ] && break; sleep 0.1; done
  mount /dev/vda $GUEST_STATE"; }
check "state disk mounted at $GUEST_STATE" mount_state
STACK_API=1
check "stack starts" start_stack
API_KEY=$(lab_exec "DATABASE_URL=\$($TOP/scripts/pg-local.sh url $GUEST_STATE/pg) \
  $TOP/build/api-server/scsipub-api account-create ci" | tail -n1)
api POST /api/sessions '{"images":["blank"],"persistent":true,"ttl_s":3600}'
check "persistent provisioned session → 201" [ "$API_CODE" = 201 ]
SID=$(json_field id); IQN=$(json_field iqn); CU=$(json_field chap_user); CS=$(json_field chap_secret)
P=127.0.0.1:$LAB_PORT
G="source $TOP/tests/lab/pr-guest.sh"
A=iqn.2025-01.test.scsipub:node-a B=iqn.2025-01.test.scsipub:node-b C=iqn.2025-01.test.scsipub:node-c
login_all() { lab_exec "$G; pr_login ifa $A $IQN $P $CU $CS && pr_login ifb $B $IQN $P $CU $CS &&
  pr_login ifc $C $IQN $P $CU $CS"; }
check "nodes A, B, C log in" login_all
# Registrations, a key change, an unregistration and a reservation: PRgeneration moves.
check "A, B, C register; A changes its key; C unregisters; A reserves WE_RO" lab_exec "$G
  pr_out ifa --register --param-sark=0xa1 && pr_out ifb --register --param-sark=0xb2 &&
  pr_out ifc --register --param-sark=0xc3 && pr_out ifa --register --param-rk=0xa1 --param-sark=0xa11 &&
  pr_out ifc --register --param-rk=0xc3 --param-sark=0 &&
  pr_out ifa --reserve --param-rk=0xa11 --prout-type=5"
snap() { lab_exec "$G; pr_keys ifa; pr_resv ifa"; }
S0=$(snap); echo "$S0"
check "READ KEYS shows A's and B's keys, generation 4" bash -c \
  'grep -q "PR generation=0x4" <<<"$1" && grep -q 0xa11 <<<"$1" && grep -q 0xb2 <<<"$1" && ! grep -q 0xc3 <<<"$1"' _ "$S0"
check "READ RESERVATION: A holds Write Exclusive, registrants only" bash -c \
  'grep -qi "Write Exclusive, registrants only" <<<"$1"' _ "$S0"
PSQL="psql \$($TOP/scripts/pg-local.sh url $GUEST_STATE/pg) -tAc"
captured() { lab_exec "[ \"\$($PSQL \"select generation from pr_state where session_id='$SID'\")\" = 4 ] &&
  $PSQL \"select aptpl from pr_state where session_id='$SID'\" | grep -q 'res_holder=1'" >/dev/null; }
check "scsipub-prstore wrote generation 4 and the reservation to PostgreSQL" wait_until 20 captured
acts() { # B (registered) writes, C (unregistered) conflicts
  lab_exec "$G; [ \$(pr_io ifb write) = ok ] && [ \$(pr_io ifc write) = conflict ] && [ \$(pr_io ifc read) = ok ]"; }
check "before: B writes, C's write conflicts, C reads" acts
same() { local s; s=$(snap); [ "$s" = "$S0" ] || { echo "differs:"; echo "$s"; return 1; }; }

# (a) kill -9 of every daemon, restart (the kernel keeps its PR state; the open-iscsi
# sessions re-login through the new portal).
check "kill -9 scsipub-tcmu, -api, -prstore, -portal and PostgreSQL" lab_exec "
  pkill -9 -x 'scsipub-tcmu|scsipub-api|scsipub-prstore|scsipub-portal'; pkill -9 -x postgres
  while pidof scsipub-tcmu scsipub-api scsipub-prstore scsipub-portal postgres >/dev/null; do sleep 0.1; done"
check "restart everything" start_stack
check "(a) after kill -9 + restart: READ KEYS / READ RESERVATION identical" wait_until 90 same
check "(a) restored semantics: B writes, C conflicts" acts

# (b) the target and backstore vanish from configfs (as after a crash of the host's
# LIO setup); the API restores them, PR state included, before the portal opens.
check "(b) kill -9 api/prstore/portal, remove target + backstore" lab_exec "
  pkill -9 -x 'scsipub-api|scsipub-prstore|scsipub-portal'
  while pidof scsipub-api scsipub-prstore scsipub-portal >/dev/null; do sleep 0.1; done
  $TOP/build/configfs-manager/scsipub-ctl target-remove $IQN &&
  $TOP/build/configfs-manager/scsipub-ctl backstore-remove pv${SID}l0"
check "(b) restart the control plane" lab_exec "
  SCSIPUB_PORT=$LAB_PORT SCSIPUB_PUBLIC=$P SCSIPUB_IMAGES=$IMAGES SCSIPUB_API_LISTEN=0.0.0.0:$LAB_API_PORT \
  SCSIPUB_START_DAEMONS=1 $TOP/vagrant/provision.sh restart-control"
check "(b) the target came back with explicit ACLs for A and B (not C)" lab_exec "
  d=/sys/kernel/config/target/iscsi/$IQN/tpgt_1/acls; [ -d \$d/$A ] && [ -d \$d/$B ] && [ ! -d \$d/$C ]"
check "(b) after the configfs loss: READ KEYS / READ RESERVATION identical" wait_until 120 same
check "(b) restored semantics: B writes, C conflicts" acts

# (c) power off (after sync) and boot again from the same disk.
check "(c) sync and power off" lab_exec "sync"
lab_stop
lab_boot || { fail "(c) the VM boots again"; finish; exit 1; }
check "(c) state disk mounted again" mount_state
check "(c) stack starts (sessions and PR state restored from PostgreSQL)" start_stack
check "(c) nodes log in again" login_all
check "(c) after the reboot: READ KEYS / READ RESERVATION identical" wait_until 60 same
check "(c) restored semantics: B writes, C conflicts" acts
finish
