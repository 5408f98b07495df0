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
# mkfs.ext4 -d (no loop mount, no partition table: root=/dev/vda). Boot it with
# tests/lab/syslab.sh, which runs a copy-on-write qcow2 overlay per test run.
# In the guest: systemd, systemd-networkd (DHCP on QEMU's user network), a serial
# getty (console=ttyS0), and scsipub-lab-agent.service: it mounts the repo (9p tag
# "repo", at the path the kernel command line's scsipub.repo= names) and runs
# tests/lab/guest-agent.sh on scsipub.run=, the same command channel as the
# initramfs lab. Prints the guest directory on stdout.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
log() { echo "build-sysguest: $*" >&2; }

# What the guest holds: systemd, the operator's LIO tools (targetcli-fb, rtslib-fb's
# targetctl service, tcmu-runner), initiators and test tools, PostgreSQL, and every
# dependency of our .deb (Depends: qemu-utils + the shared libraries it links), so
# "apt install ./scsipub_*.deb" works offline in the guest.
PKGS=(
  systemd systemd-sysv udev dbus kmod iproute2 procps util-linux linux-image-amd64
  initramfs-tools e2fsprogs
  targetcli-fb python3-rtslib-fb tcmu-runner open-iscsi sg3-utils libiscsi-bin
  qemu-utils postgresql
  libnl-3-200 libnl-genl-3-200 libkmod2 libglib2.0-0 libssl3 libcurl4 liblzma5 zlib1g
  libjson-c5 libmicrohttpd12 libgnutls30 libpq5 libisal2
)
# Root file system size (sparse: only the used blocks take disk space).
FS_SIZE=${SYSGUEST_FS_SIZE:-4G}

key=$(sha256sum "$0" | cut -c1-16)
OUT=$TOP/build/sysguest/$key
if [ -f "$OUT/done" ]; then echo "$OUT"; exit 0; fi
for t in mmdebstrap mkfs.ext4 xz; do
  command -v "$t" >/dev/null || { log "$t missing: run scripts/deps.sh"; exit 1; }
done
[ "$(id -u)" = 0 ] || { log "needs root (mmdebstrap --mode=root)"; exit 1; }

start=$(date +%s)
rm -rf "$OUT"; mkdir -p "$OUT"
W=$(mktemp -d "$TOP/build/sysguest/tmp.XXXXXX")
trap 'rm -rf "$W"' EXIT

# The host's apt sources (deb822 or one-line): the same mirror as the rest of the lab.
SRC=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -s "$f" ] && grep -qv '^\s*\(#\|$\)' "$f" && SRC+=("$f")
done
((${#SRC[@]})) || { log "no apt sources on this host"; exit 1; }

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
cat >"$W/files/usleep" <<'EOF'
#!/bin/sh
# busybox's usleep for tests/lab/guest-agent.sh: microseconds.
exec sleep "$(($1 / 1000000)).$(printf %06d $(($1 % 1000000)))"
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

log "mmdebstrap bookworm (${#PKGS[@]} packages and their dependencies)"
mmdebstrap --mode=root --variant=apt --format=directory \
  --include="$(IFS=,; echo "${PKGS[*]}")" \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook='echo sysguest >"$1/etc/hostname"' \
  --customize-hook='printf "127.0.0.1 localhost\n127.0.1.1 sysguest\n" >"$1/etc/hosts"' \
  --customize-hook='printf "/dev/vda / ext4 defaults,noatime 0 1\n" >"$1/etc/fstab"' \
  --customize-hook='chroot "$1" passwd -d root' \
  --customize-hook="install -m 0755 $W/files/agent \"\$1/usr/local/sbin/scsipub-lab-agent\"" \
  --customize-hook="install -m 0755 $W/files/usleep \"\$1/usr/local/bin/usleep\"" \
  --customize-hook="install -m 0644 $W/files/scsipub-lab-agent.service \"\$1/etc/systemd/system/\"" \
  --customize-hook="install -m 0644 $W/files/10-lab.network \"\$1/etc/systemd/network/\"" \
  --customize-hook='chroot "$1" systemctl enable scsipub-lab-agent.service systemd-networkd.service' \
  --customize-hook='chroot "$1" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer systemd-networkd-wait-online.service' \
  --customize-hook='mkdir -p "$1/etc/target/pr" "$1/etc/rtslib-fb-target"' \
  --customize-hook="chroot \"\$1\" dpkg-query -W -f='\${Package} \${Version}\n' >$W/versions" \
  --customize-hook="cp -a \"\$1\"/boot/vmlinuz-* $W/vmlinuz && cp -a \"\$1\"/boot/initrd.img-* $W/initrd.img" \
  bookworm "$W/root" "${SRC[@]}" >"$W/mmdebstrap.log" 2>&1 ||
  { tail -n 40 "$W/mmdebstrap.log" >&2; log "mmdebstrap failed"; exit 1; }
debootstrap_s=$(( $(date +%s) - start ))

log "mkfs.ext4 -d ($FS_SIZE)"
rm -rf "$W/root/var/cache/apt/archives/"*.deb
mkfs.ext4 -q -F -L sysguest -d "$W/root" "$OUT/root.img.tmp" "$FS_SIZE"
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
  echo "kernel: $(basename "$(ls "$W"/root/boot/vmlinuz-* | head -n1)")"
} >"$OUT/info"
touch "$OUT/done"
log "$(tr '\n' ';' <"$OUT/info")"
echo "$OUT"
