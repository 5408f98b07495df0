#!/usr/bin/env bash
# Build a Vagrant box for the libvirt provider from Debian packages only, so that
# "vagrant up --provider=libvirt" needs nothing from Vagrant Cloud:
#   mmdebstrap (Debian 12 bookworm, the host's apt sources) -> ext4 root file system
#   (mkfs.ext4 -d, no loop mount) -> qcow2 -> build/vagrant/scsipub-bookworm.box
# The box (a tar of metadata.json, Vagrantfile, box.img, vmlinuz, initrd.img) boots
# the image's own kernel and initramfs directly (vagrant-libvirt's kernel/initrd/
# cmd_line, root=/dev/vda: no partition table, no boot loader). It holds systemd,
# openssh-server and sudo (user "vagrant", password "vagrant": Vagrant logs in with
# it once and replaces it with a key of its own), and everything scsipub's .deb needs
# (so "apt install ./scsipub_*.deb" works offline), PostgreSQL, targetcli-fb,
# tcmu-runner, open-iscsi, libiscsi-bin: one box serves as target and initiator
# (vagrant/Vagrantfile).
#   vagrant/build-box.sh                 build (cached: reruns return at once)
#   vagrant box add --name scsipub/bookworm build/vagrant/scsipub-bookworm.box
# The package list and the image recipe it shares with the lab's systemd guest:
# scripts/debimage.sh. Needs root (mmdebstrap --mode=root), mmdebstrap, e2fsprogs,
# qemu-utils.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=${BOX_OUT:-$TOP/build/vagrant}
BOX=$OUT/scsipub-bookworm.box
log() { echo "build-box: $*" >&2; }

. "$TOP/scripts/debimage.sh"
DEBIMAGE_EXTRA=(openssh-server sudo ca-certificates)
FS_SIZE=${BOX_FS_SIZE:-8G}

key=$(cat "$0" "$TOP/scripts/debimage.sh" | sha256sum | cut -c1-16)
if [ -f "$BOX" ] && [ "$(cat "$OUT/key" 2>/dev/null)" = "$key" ]; then echo "$BOX"; exit 0; fi
command -v qemu-img >/dev/null || { log "qemu-img missing: run scripts/deps.sh"; exit 1; }

start=$(date +%s)
mkdir -p "$OUT"
W=$(mktemp -d "$OUT/tmp.XXXXXX")
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/files"
cat >"$W/files/10-dhcp.network" <<'EOF'
[Match]
Name=eth0

[Network]
DHCP=ipv4
EOF
cat >"$W/files/vagrant.sudoers" <<'EOF'
vagrant ALL=(ALL) NOPASSWD: ALL
EOF
cat >"$W/files/vagrant-sshd.conf" <<'EOF'
# Vagrant's first login uses the password; it then installs its own key.
PasswordAuthentication yes
UseDNS no
EOF

log "mmdebstrap bookworm (${#DEBIMAGE_PKGS[@]} + ${#DEBIMAGE_EXTRA[@]} packages and their dependencies)"
debimage_build "$W" scsipub \
  --customize-hook='chroot "$1" useradd -m -s /bin/bash -G sudo vagrant' \
  --customize-hook='echo vagrant:vagrant | chroot "$1" chpasswd' \
  --customize-hook="install -m 0440 $W/files/vagrant.sudoers \"\$1/etc/sudoers.d/vagrant\"" \
  --customize-hook="install -m 0644 $W/files/vagrant-sshd.conf \"\$1/etc/ssh/sshd_config.d/vagrant.conf\"" \
  --customize-hook="install -m 0644 $W/files/10-dhcp.network \"\$1/etc/systemd/network/\"" \
  --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
  --customize-hook='printf "[Unit]\nBefore=ssh.service\nConditionPathExists=!/etc/ssh/ssh_host_ed25519_key\n[Service]\nType=oneshot\nExecStart=/usr/bin/ssh-keygen -A\n[Install]\nWantedBy=multi-user.target\n" >"$1/etc/systemd/system/ssh-hostkeys.service"' \
  --customize-hook='chroot "$1" systemctl enable systemd-networkd.service ssh.service ssh-hostkeys.service' \
  --customize-hook=': >"$1/etc/machine-id"' || { log "mmdebstrap failed"; exit 1; }
mm_s=$(( $(date +%s) - start ))

debimage_mkfs "$W" "$W/root.img" "$FS_SIZE" scsipub
qemu-img convert -q -c -f raw -O qcow2 "$W/root.img" "$W/box.img"
rm -f "$W/root.img"
vsize=$(( $(qemu-img info --output=json "$W/box.img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])') / 1073741824 ))
cat >"$W/metadata.json" <<EOF
{"provider": "libvirt", "format": "qcow2", "virtual_size": $vsize}
EOF
cat >"$W/Vagrantfile" <<'EOF'
# The box's own defaults (scsipub-bookworm, vagrant/build-box.sh): direct kernel boot
# of the kernel and initramfs shipped beside box.img, root on the first virtio disk.
Vagrant.configure("2") do |config|
  config.ssh.username = "vagrant"
  config.ssh.password = "vagrant"
  config.vm.provider :libvirt do |lv|
    dir = File.dirname(__FILE__)
    lv.kernel = File.join(dir, "vmlinuz")
    lv.initrd = File.join(dir, "initrd.img")
    lv.cmd_line = "root=/dev/vda rw console=ttyS0 net.ifnames=0"
    lv.disk_bus = "virtio"
  end
end
EOF
tar -C "$W" -cf "$BOX.tmp" metadata.json Vagrantfile box.img vmlinuz initrd.img
mv "$BOX.tmp" "$BOX"
echo "$key" >"$OUT/key"
log "built in $(( $(date +%s) - start )) s (mmdebstrap $mm_s s); $(du -m "$BOX" | cut -f1) MiB box, ${vsize} GiB virtual disk"
echo "$BOX"
