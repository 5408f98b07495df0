# LUNs made by hand in the lab guest for the benchmarks and profiles (bench-perf.sh,
# prof-*.sh), and open-iscsi logins to them (source after common.sh; call after
# lab_boot). The first two print guest shell commands, to be run with lab_exec inside a
# `set -e` script of the caller's, so one guest round trip makes a whole target:
#   peer_cow_backstore NAME DIR SIZE_B BASE ATTRS [MORE]
#       a user:cow backstore $CFS/core/user_90/NAME with the control string
#       scsipub-cfgd uses (overlay DIR/NAME.ovl, bitmap DIR/NAME.bm over the read-only
#       BASE, SIZE_B bytes; ATTRS: more TCMU control keys, e.g. hw_block_size=512),
#       unit serial NAME; MORE: more commands run before it is enabled, with D set to
#       its directory (e.g. the attributes scsipub-cfgd sets). Returns once
#       scsipub-tcmu has had the device's uio node for a second.
#   peer_lio_target IQN PORT BACKSTORE_DIR [MORE]
#       TPG 1 of IQN on 127.0.0.1:PORT, LUN 0 = BACKSTORE_DIR, open to any initiator
#       (generate_node_acls=1, writable, no authentication); MORE: more commands run
#       before the TPG is enabled, with T set to the TPG's directory.
#   peer_login IQN PORT [CHAP_USER CHAP_SECRET]
#       open-iscsi (iscsid started if needed) logs in to IQN at 127.0.0.1:PORT (with
#       one-way CHAP when given; with the node settings of PEER_NODE_PARAMS, e.g.
#       "node.session.iscsi.FirstBurstLength=1048576", space-separated NAME=VALUE);
#       prints the block device's name (sdX) once it exists, or returns 1 within 30 s.
CFS=/sys/kernel/config/target

peer_cow_backstore() {
  echo "D=$CFS/core/user_90/$1; mkdir -p \$D
    echo -n 'dev_size=$3,dev_config=cow/size=$3;overlay=$2/$1.ovl;bitmap=$2/$1.bm;base=$4,$5,nl_reply_supported=-1' >\$D/control
    echo $1 >\$D/wwn/vpd_unit_serial
    ${6:-}
    echo 1 >\$D/enable
    for i in \$(seq 100); do grep -q '/$1/' /sys/class/uio/uio*/name 2>/dev/null && break; sleep 0.1; done
    sleep 1"
}

peer_lio_target() {
  echo "T=$CFS/iscsi/$1/tpgt_1; mkdir -p \$T/lun/lun_0 \$T/np/127.0.0.1:$2
    ln -s $3 \$T/lun/lun_0/bs
    echo 1 >\$T/attrib/generate_node_acls; echo 0 >\$T/attrib/demo_mode_write_protect
    echo 0 >\$T/attrib/authentication
    ${4:-}
    echo 1 >\$T/enable"
}

peer_login() {
  lab_exec "set -e; pgrep -x iscsid >/dev/null || iscsid
    iscsiadm -m node -o new -T $1 -p 127.0.0.1:$2 >/dev/null
    iscsiadm -m node -T $1 -p 127.0.0.1:$2 -o update -n node.session.timeo.replacement_timeout -v 10
    $(for kv in ${PEER_NODE_PARAMS:-}; do
      echo "iscsiadm -m node -T $1 -p 127.0.0.1:$2 -o update -n ${kv%%=*} -v ${kv#*=}"; done)
    ${3:+iscsiadm -m node -T $1 -p 127.0.0.1:$2 -o update -n node.session.auth.authmethod -v CHAP
    iscsiadm -m node -T $1 -p 127.0.0.1:$2 -o update -n node.session.auth.username -v $3
    iscsiadm -m node -T $1 -p 127.0.0.1:$2 -o update -n node.session.auth.password -v $4}
    iscsiadm -m node -T $1 -p 127.0.0.1:$2 --login >/dev/null
    for i in \$(seq 150); do
      for s in /sys/class/iscsi_session/session*; do
        c=\$(ls -d \$s/device/connection*/iscsi_connection/connection* | head -n1)
        [ \"\$(cat \$s/targetname)\" = $1 ] && [ \"\$(cat \$c/persistent_port)\" = $2 ] || continue
        d=\$(ls \$s/device/target*/*/block 2>/dev/null | head -n1)
        [ -n \"\$d\" ] && [ -b /dev/\$d ] && { echo \$d; exit 0; }
      done; sleep 0.2
    done; exit 1"
}
