# Debian 12 images built with mmdebstrap from the host's apt sources (sourced by
# tests/lab/build-sysguest.sh, the lab's systemd guest, and vagrant/build-box.sh, the
# Vagrant box): one recipe for what both hold and how both are made.
#   DEBIMAGE_PKGS       the packages of a Debian 12 LIO host beside which scsipub is
#                       installed: systemd, the operator's LIO tools (targetcli-fb,
#                       rtslib-fb's targetctl service, tcmu-runner), initiators and test
#                       tools, PostgreSQL, and every dependency of our .deb (qemu-utils +
#                       the shared libraries it links), so "apt install ./scsipub_*.deb"
#                       works offline in the image
#   debimage_build DIR HOSTNAME [mmdebstrap options...]
#                       mmdebstrap bookworm (DEBIMAGE_PKGS + DEBIMAGE_EXTRA) into
#                       DIR/root; hostname, /etc/hosts, fstab (root=/dev/vda, ext4, no
#                       partition table), a small initramfs (only virtio + ext4: quick to
#                       build and to boot), periodic timers masked; the image's kernel and
#                       initramfs copied to DIR/vmlinuz and DIR/initrd.img, its package
#                       list to DIR/versions. The options given are passed on (the
#                       caller's own hooks). Log: DIR/mmdebstrap.log (its tail on failure).
#   debimage_mkfs DIR IMG SIZE LABEL
#                       the ext4 file system IMG (SIZE, sparse) holding DIR/root
#                       (mkfs.ext4 -d, no loop mount); DIR/root is removed
# Needs root (mmdebstrap --mode=root), mmdebstrap and e2fsprogs (scripts/deps.sh).
DEBIMAGE_PKGS=(
  systemd systemd-sysv udev dbus kmod iproute2 procps util-linux linux-image-amd64
  initramfs-tools e2fsprogs
  targetcli-fb python3-rtslib-fb tcmu-runner open-iscsi sg3-utils libiscsi-bin
  qemu-utils postgresql
  libnl-3-200 libnl-genl-3-200 libkmod2 libglib2.0-0 libssl3 libcurl4 liblzma5 zlib1g
  libjson-c5 libmicrohttpd12 libgnutls30 libpq5 libisal2
)
DEBIMAGE_EXTRA=()

debimage_build() { # DIR HOSTNAME [mmdebstrap options...]
  local dir=$1 host=$2 f src=()
  shift 2
  local t
  for t in mmdebstrap mkfs.ext4; do
    command -v "$t" >/dev/null || { echo "debimage: $t missing: run scripts/deps.sh" >&2; return 1; }
  done
  [ "$(id -u)" = 0 ] || { echo "debimage: needs root (mmdebstrap --mode=root)" >&2; return 1; }
  # The host's apt sources (deb822 or one-line): the same mirror as the rest of the lab.
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -s "$f" ] && grep -qv '^\s*\(#\|$\)' "$f" && src+=("$f")
  done
  ((${#src[@]})) || { echo "debimage: no apt sources on this host" >&2; return 1; }
  mkdir -p "$dir/files"
  # The initramfs: only what mounts an ext4 root on virtio. (Pre-seeding
  # update-initramfs.conf, a conffile of initramfs-tools, to build it only once made
  # initramfs-tools fail to configure: don't.)
  printf 'MODULES=list\nCOMPRESS=gzip\n' >"$dir/files/initramfs.conf"
  printf 'virtio_pci\nvirtio_blk\next4\ncrc32c_generic\n' >"$dir/files/initramfs.modules"
  local pkgs=("${DEBIMAGE_PKGS[@]}" "${DEBIMAGE_EXTRA[@]}")
  mmdebstrap --mode=root --variant=apt --format=directory \
    --include="$(IFS=,; echo "${pkgs[*]}")" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --essential-hook='mkdir -p "$1/etc/initramfs-tools/conf.d"' \
    --essential-hook="install -m 0644 $dir/files/initramfs.conf \"\$1/etc/initramfs-tools/conf.d/debimage.conf\"" \
    --customize-hook="install -m 0644 $dir/files/initramfs.modules \"\$1/etc/initramfs-tools/modules\"" \
    --customize-hook='chroot "$1" update-initramfs -u -k all' \
    --customize-hook="echo $host >\"\$1/etc/hostname\"" \
    --customize-hook="printf '127.0.0.1 localhost\n127.0.1.1 $host\n' >\"\$1/etc/hosts\"" \
    --customize-hook='printf "/dev/vda / ext4 defaults,noatime 0 1\n" >"$1/etc/fstab"' \
    --customize-hook='chroot "$1" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer' \
    --customize-hook='mkdir -p "$1/etc/target/pr" "$1/etc/rtslib-fb-target"' \
    "$@" \
    --customize-hook="chroot \"\$1\" dpkg-query -W -f='\${Package} \${Version}\n' >$dir/versions" \
    --customize-hook="cp -a \"\$1\"/boot/vmlinuz-* $dir/vmlinuz && cp -a \"\$1\"/boot/initrd.img-* $dir/initrd.img" \
    bookworm "$dir/root" "${src[@]}" >"$dir/mmdebstrap.log" 2>&1 ||
    { tail -n 40 "$dir/mmdebstrap.log" >&2; echo "debimage: mmdebstrap failed" >&2; return 1; }
}

debimage_mkfs() { # DIR IMG SIZE LABEL
  rm -rf "$1/root/var/cache/apt/archives/"*.deb
  # (mke2fs says "Creating regular file" on stdout even with -q: the callers' stdout
  # is the path they print)
  mkfs.ext4 -q -F -L "$4" -d "$1/root" "$2" "$3" >&2 && rm -rf "$1/root"
}
