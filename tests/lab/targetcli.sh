# targetcli in the lab guest (source after lab.sh; call after lab_boot).
#   guest_start_dbus     start a system dbus-daemon in the guest: the guest has no
#                        /etc/dbus-1 and no messagebus user (its /etc comes from the
#                        busybox initramfs, /etc/passwd has only root), so a minimal
#                        system-bus config is written to /run/dbus and the daemon runs
#                        as root. Idempotent.
#   guest_targetcli_ls [PATH]  run `targetcli ls [PATH]` in the guest and print it.
#
# targetcli-fb lists user:<subtype> backstores only for handlers that a service named
# org.kernel.TCMUService1 on the system bus reports (ui_backstore.py,
# _user_backstores); scsipub-tcmu is that service (tcmu-handler/dbus_service.h). The
# policy below is the lab's equivalent of tcmu-runner's
# /etc/dbus-1/system.d/tcmu-runner.conf: only root may own the name, everyone may
# call it. The socket is /run/dbus/system_bus_socket, reachable at the default
# system-bus address /var/run/dbus/system_bus_socket (a link when /var/run is not /run).
#
# Prerequisites in the guest: configfs mounted and the target modules loaded, e.g.
#   lab_exec 'modprobe target_core_user iscsi_target_mod;
#             mount -t configfs none /sys/kernel/config'

guest_start_dbus() {
  lab_exec '
set -e
mkdir -p /run/dbus
# Clients use the default address /var/run/dbus/system_bus_socket.
[ -e /var/run ] || ln -s /run /var/run
if ! [ /var/run/dbus -ef /run/dbus ]; then
  mkdir -p /var/run/dbus
  ln -sf /run/dbus/system_bus_socket /var/run/dbus/system_bus_socket
fi
if [ -S /run/dbus/system_bus_socket ] && [ -f /run/dbus/pid ] &&
   kill -0 "$(cat /run/dbus/pid)" 2>/dev/null; then
  echo "dbus: already running (pid $(cat /run/dbus/pid))"; exit 0
fi
rm -f /run/dbus/system_bus_socket /run/dbus/pid
cat >/run/dbus/system.conf <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <pidfile>/run/dbus/pid</pidfile>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <deny own="*"/>
  </policy>
  <policy user="root">
    <allow own="org.kernel.TCMUService1"/>
  </policy>
</busconfig>
EOF
dbus-daemon --config-file=/run/dbus/system.conf --fork --print-pid
for i in $(seq 50); do [ -S /run/dbus/system_bus_socket ] && break; sleep 0.1; done
[ -S /run/dbus/system_bus_socket ]
echo "dbus: system bus at /run/dbus/system_bus_socket"'
}

guest_targetcli_ls() {
  # targetcli keeps its preferences in $HOME/.targetcli (the agent's shells have no
  # HOME) and refuses to start unless rtslib's dbroot /etc/rtslib-fb-target exists.
  lab_exec "export HOME=/root; mkdir -p /root/.targetcli /etc/rtslib-fb-target; targetcli ls ${1:-}"
}
