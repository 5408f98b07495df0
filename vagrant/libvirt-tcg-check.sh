#!/usr/bin/env bash
# Can libvirt start a TCG (type='qemu') domain on this machine? The question behind
# running the Vagrant lab (vagrant/Vagrantfile, SCSIPUB_LIBVIRT_DRIVER=qemu) here.
# Starts virtlogd and libvirtd when they are not running (no systemd needed; stopped
# again at the end), creates a transient domain that boots the Vagrant box
# (vagrant/build-box.sh: the box's own kernel and initramfs, root on a qcow2 overlay
# of its box.img, no network) and waits (bounded, LIBVIRT_CHECK_TIMEOUT seconds) for
# the login prompt on its serial console, then destroys it. Prints the verdict and
# the boot time; exit 0 = a TCG domain booted.
# Needs root; installs libvirt-daemon-system and libvirt-clients when missing. Run it under the lab lock (it is a VM):
#   flock /tmp/scsipub-lab.lock bash vagrant/libvirt-tcg-check.sh
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v libvirtd >/dev/null || ! command -v virsh >/dev/null; then
  echo "libvirt-tcg-check: installing libvirt-daemon-system and libvirt-clients"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    libvirt-daemon-system libvirt-clients >/dev/null ||
    { echo "libvirt-tcg-check: could not install libvirt"; exit 2; }
fi
box=$("$TOP/vagrant/build-box.sh") || exit 2
W=$(mktemp -d /tmp/scsipub-libvirt.XXXXXX)
chmod 755 "$W"
tar -C "$W" -xf "$box" box.img vmlinuz initrd.img
started=()
cleanup() {
  virsh -c qemu:///system destroy scsipub-tcg-check >/dev/null 2>&1
  local p; for p in "${started[@]}"; do kill "$p" 2>/dev/null; done
  rm -rf "$W"
}
trap cleanup EXIT
# (Started without our descriptors: one of them may be the lab lock.)
nofds() { (for fd in $(ls /proc/$BASHPID/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done; exec "$@"); }
if ! pgrep -x virtlogd >/dev/null; then nofds virtlogd -d && started+=("$(pgrep -nx virtlogd)"); fi
if ! pgrep -x libvirtd >/dev/null; then nofds libvirtd -d && started+=("$(pgrep -nx libvirtd)"); fi
for i in $(seq 50); do virsh -c qemu:///system version >/dev/null 2>&1 && break; sleep 0.2; done
virsh -c qemu:///system version 2>&1 | sed 's/^/  /'
echo "  domain types: $(virsh -c qemu:///system capabilities 2>/dev/null | grep -o "domain type='[a-z]*'" | sort -u | tr '\n' ' ')"
qemu-img create -q -f qcow2 -F qcow2 -b "$W/box.img" "$W/disk.qcow2"
cat >"$W/dom.xml" <<EOF
<domain type='qemu'>
  <name>scsipub-tcg-check</name>
  <memory unit='MiB'>1024</memory>
  <vcpu>2</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$W/vmlinuz</kernel>
    <initrd>$W/initrd.img</initrd>
    <cmdline>root=/dev/vda rw console=ttyS0 net.ifnames=0</cmdline>
  </os>
  <cpu mode='custom' match='exact'><model fallback='allow'>qemu64</model></cpu>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$W/disk.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'><source path='$W/console.log'/></serial>
    <console type='file'><source path='$W/console.log'/><target type='serial'/></console>
  </devices>
</domain>
EOF
start=$SECONDS
if ! out=$(virsh -c qemu:///system create "$W/dom.xml" 2>&1); then
  echo "  $out"
  echo "libvirt-tcg-check: NO: libvirt could not start a TCG domain here"
  exit 1
fi
# (The domain's state is read into a variable: "virsh ... | grep -q" under pipefail
# fails when grep exits first and virsh gets SIGPIPE.)
limit=${LIBVIRT_CHECK_TIMEOUT:-600}
while ((SECONDS - start < limit)); do
  grep -q 'login:' "$W/console.log" 2>/dev/null && break
  state=$(virsh -c qemu:///system domstate scsipub-tcg-check 2>/dev/null)
  [ "$state" = running ] || { echo "  domain state: ${state:-gone}"; break; }
  sleep 1
done
if grep -q 'login:' "$W/console.log" 2>/dev/null; then
  echo "libvirt-tcg-check: YES: a TCG domain booted the box (Debian 12, systemd) to its login prompt in $((SECONDS - start)) s"
  exit 0
fi
tail -n 20 "$W/console.log" 2>/dev/null | sed 's/^/  console: /'
echo "libvirt-tcg-check: NO: the TCG domain started but did not reach a login prompt in $((SECONDS - start)) s"
exit 1
