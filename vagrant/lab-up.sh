#!/usr/bin/env bash
# The Vagrant lab end to end on this machine, by hand (two TCG VMs: about 15 min on
# 2 cores; not part of the suite, whose short form is tests/pkg/test-vagrant.sh):
#   1. installs what it needs when missing (libvirt-daemon-system, libvirt-clients,
#      dnsmasq-base for libvirt's networks; vagrant and vagrant-libvirt come from
#      scripts/deps.sh) and starts virtlogd and libvirtd when they are not running
#      (no systemd needed),
#   2. builds the box (vagrant/build-box.sh, cached) and the .deb
#      (dpkg-buildpackage on a copy of the tree, in build/deb), adds the box as
#      scsipub/bookworm (replacing an older one),
#   3. "vagrant up --provider=libvirt" with SCSIPUB_LIBVIRT_DRIVER=qemu (TCG): the
#      target installs the .deb and starts scsipub.target, the initiator discovers it,
#      logs in to the anonymous blank target, writes 1 MiB and reads it back,
#   4. "vagrant destroy -f" (KEEP=1 leaves the VMs running).
# Prints the verdict; exit 0 = the initiator VM read back what it wrote through
# scsipub. Needs root. Run it under the lab lock (it is two VMs):
#   flock /tmp/scsipub-lab.lock bash vagrant/lab-up.sh
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
log() { echo "lab-up: $*"; }
[ "$(id -u)" = 0 ] || { log "needs root"; exit 2; }

need=()
command -v libvirtd >/dev/null || need+=(libvirt-daemon-system)
command -v virsh >/dev/null || need+=(libvirt-clients)
command -v dnsmasq >/dev/null || dpkg-query -W -f='${Status}' dnsmasq-base 2>/dev/null |
  grep -q 'ok installed' || need+=(dnsmasq-base)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" \
    >/dev/null || { log "could not install ${need[*]}"; exit 2; }
fi
command -v vagrant >/dev/null || { log "vagrant missing: run scripts/deps.sh"; exit 2; }
# The daemons must not inherit our descriptors: under "flock LOCK bash lab-up.sh" one
# of them is the lab lock, which a daemon would then hold for ever.
nofds() { (for fd in $(ls /proc/$BASHPID/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done; exec "$@"); }
pgrep -x virtlogd >/dev/null || nofds virtlogd -d
pgrep -x libvirtd >/dev/null || nofds libvirtd -d
for i in $(seq 50); do virsh -c qemu:///system version >/dev/null 2>&1 && break; sleep 0.2; done

box=$("$TOP/vagrant/build-box.sh") || { log "box build failed"; exit 1; }
D=$TOP/build/deb
rm -rf "$D" && mkdir -p "$D/src"
(cd "$TOP" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | tar -C "$D/src" -xf -
(cd "$D/src" && dpkg-buildpackage -us -uc -b) >"$D/build.log" 2>&1 ||
  { tail -n 30 "$D/build.log"; log "dpkg-buildpackage failed"; exit 1; }
deb=$(ls "$D"/scsipub_*_*.deb | grep -v dbgsym | head -n1)
log "box $box, package $deb"
# The box (its kernel and initramfs are booted directly) must be readable by libvirt's
# qemu user: Vagrant's home here, not root's 0700 ~/.vagrant.d.
export VAGRANT_HOME=${VAGRANT_HOME:-$TOP/build/vagrant/home}
mkdir -p "$VAGRANT_HOME" && chmod 755 "$VAGRANT_HOME"
vagrant box add -f --name scsipub/bookworm "$box" >/dev/null || { log "vagrant box add failed"; exit 1; }

cd "$TOP/vagrant"
export SCSIPUB_LIBVIRT_DRIVER=qemu SCSIPUB_DEB=$deb
vagrant destroy -f >/dev/null 2>&1
start=$SECONDS
vagrant up --provider=libvirt 2>&1 | tr '\r' '\n' | sed -u 's/\x1b\[K//g' |
  grep --line-buffered -v '^Progress' | tee "$TOP/build/vagrant/up.log"
up_rc=${PIPESTATUS[0]}
secs=$((SECONDS - start))
[ "${KEEP:-0}" = 1 ] || vagrant destroy -f >/dev/null 2>&1
if [ "$up_rc" = 0 ] && grep -q 'wrote and read back 1 MiB through scsipub' "$TOP/build/vagrant/up.log"; then
  log "YES: vagrant up (libvirt, TCG) of target + initiator: the initiator logged in to blank and read back 1 MiB in ${secs} s"
  exit 0
fi
log "NO: vagrant up exited $up_rc after ${secs} s (build/vagrant/up.log)"
exit 1
