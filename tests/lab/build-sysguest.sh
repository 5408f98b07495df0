#!/usr/bin/env bash
# Build (once) and cache a real Debian 12 guest with systemd for the lab (issue 9):
#   build/sysguest/<key>/root.img    ext4 root file system (raw, sparse; /dev/vda)
#   build/sysguest/<key>/vmlinux     the image's own kernel (uncompressed: boots faster
#                                    under TCG), vmlinuz beside it
#   build/sysguest/<key>/initrd.img  the image's own initramfs (initramfs-tools)
#   build/sysguest/<key>/info        package versions, build time, sizes
# <key> is a hash of this script (the package list and the customisations below), so
# a rerun with nothing changed returns at once; a change rebuilds into a new key.
# Built with mmdebstrap from Debian's archive (the host's apt sources, bookworm) and
# mkfs.ext4 -d (no loop mount, no partition table: root=/dev/vda); the package list
# and the recipe it shares with the Vagrant box: scripts/debimage.sh. Boot it with
# tests/lab/syslab.sh, which runs a copy-on-write qcow2 overlay per test run.
# In the guest: systemd, systemd-networkd (DHCP on QEMU's user network), a serial
# getty (console=ttyS0), and scsipub-lab-agent.service: it mounts the repo (9p tag
# "repo", at the path the kernel command line's scsipub.repo= names) and runs
# tests/lab/guest-agent.sh on scsipub.run=, the same command channel as the
# initramfs lab. Prints the guest directory on stdout.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
log() { echo "build-sysguest: $*" >&2; }

. "$TOP/scripts/debimage.sh"
# Root file system size (sparse: only the used blocks take disk space).
FS_SIZE=${SYSGUEST_FS_SIZE:-4G}

key=$(cat "$0" "$TOP/scripts/debimage.sh" | sha256sum | cut -c1-16)
OUT=$TOP/build/sysguest/$key
if [ -f "$OUT/done" ]; then echo "$OUT"; exit 0; fi
command -v xz >/dev/null || { log "xz missing: run scripts/deps.sh"; exit 1; }

start=$(date +%s)
rm -rf "$OUT"; mkdir -p "$OUT"
W=$(mktemp -d "$TOP/build/sysguest/tmp.XXXXXX")
trap 'rm -rf "$W"' EXIT

# Files the customize hook copies in.
mkdir -p "$W/files"
cat >"$W/files/agent" <<'EOF'
#!/bin/sh
# scsipub lab agent: mount the repo shared by the host (9p) and run its command agent.
repo=; run=
for a in $(cat /proc/cmdline); do
  case $a in scsipub.repo=*) repo=${a#*=} ;; scsipub.run=*) run=${a#*=} ;; esac
done
[ -n "$repo" ] && [ -n "$run" ] || { echo "scsipub-lab-agent: not a lab boot"; exit 0; }
modprobe -a 9p 9pnet_virtio 2>/dev/null
mkdir -p "$repo"
mountpoint -q "$repo" || mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 repo "$repo" || exit 1
exec /bin/sh "$repo/tests/lab/guest-agent.sh" "$run"
EOF
cat >"$W/files/scsipub-lab-agent.service" <<'EOF'
[Unit]
Description=scsipub lab command agent (9p share from the host)
After=local-fs.target
DefaultDependencies=no
Before=shutdown.target
Conflicts=shutdown.target

[Service]
Type=simple
ExecStart=/usr/local/sbin/scsipub-lab-agent
KillMode=process

[Install]
WantedBy=sysinit.target
EOF
cat >"$W/files/10-lab.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=ipv4
EOF

log "mmdebstrap bookworm (${#DEBIMAGE_PKGS[@]} packages and their dependencies)"
debimage_build "$W" sysguest \
  --customize-hook='chroot "$1" passwd -d root' \
  --customize-hook="install -m 0755 $W/files/agent \"\$1/usr/local/sbin/scsipub-lab-agent\"" \
  --customize-hook="install -m 0644 $W/files/scsipub-lab-agent.service \"\$1/etc/systemd/system/\"" \
  --customize-hook="install -m 0644 $W/files/10-lab.network \"\$1/etc/systemd/network/\"" \
  --customize-hook='chroot "$1" systemctl enable scsipub-lab-agent.service systemd-networkd.service' \
  --customize-hook='chroot "$1" systemctl mask systemd-networkd-wait-online.service' || {
  log "mmdebstrap failed"; exit 1; }
debootstrap_s=$(( $(date +%s) - start ))

log "mkfs.ext4 -d ($FS_SIZE)"
kernel=$(basename "$(ls "$W"/root/boot/vmlinuz-* | head -n1)")
debimage_mkfs "$W" "$OUT/root.img.tmp" "$FS_SIZE" sysguest
mv "$OUT/root.img.tmp" "$OUT/root.img"
mv "$W/vmlinuz" "$OUT/vmlinuz"; mv "$W/initrd.img" "$OUT/initrd.img"
# Uncompressed vmlinux (an ELF QEMU loads directly) boots faster under TCG.
for off in $(LC_ALL=C grep -aboP '\xfd7zXZ\x00' "$OUT/vmlinuz" | cut -d: -f1); do
  tail -c +$((off + 1)) "$OUT/vmlinuz" | xz -dc >"$OUT/vmlinux.tmp" 2>/dev/null || true
  if [ "$(head -c4 "$OUT/vmlinux.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
    mv "$OUT/vmlinux.tmp" "$OUT/vmlinux"; break
  fi
done
rm -f "$OUT/vmlinux.tmp"
cp "$W/versions" "$OUT/versions"
{
  echo "built: $(date -u +%FT%TZ)"
  echo "mmdebstrap: ${debootstrap_s} s; total: $(( $(date +%s) - start )) s"
  echo "packages: $(wc -l <"$W/versions")"
  echo "root.img: $(du -m --apparent-size "$OUT/root.img" | cut -f1) MiB apparent, $(du -m "$OUT/root.img" | cut -f1) MiB on disk"
  echo "kernel: $kernel"
} >"$OUT/info"
touch "$OUT/done"
log "$(tr '\n' ';' <"$OUT/info")"
echo "$OUT"
