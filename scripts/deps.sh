#!/usr/bin/env bash
# Install the Debian 12 packages that the build, the lab VM and the tests need.
# Idempotent and quick when everything is present. Must run as root on a fresh machine.
set -euo pipefail
PKGS=(
  build-essential pkg-config
  libnl-3-dev libnl-genl-3-dev libkmod-dev libglib2.0-dev libssl-dev libcmocka-dev
  libiscsi-dev libiscsi-bin open-iscsi sg3-utils
  qemu-system-x86 busybox-static kmod cpio gzip e2fsprogs xz-utils
  qemu-system-arm tftpd-hpa tftp-hpa qemu-block-extra syslinux syslinux-common mtools
  targetcli-fb dbus stunnel4 tcmu-runner
  curl jq qemu-utils chromium python3-prometheus-client
  libcurl4-openssl-dev liblzma-dev zlib1g-dev libjson-c-dev
  libmicrohttpd-dev libgnutls28-dev libpq-dev postgresql
  libisal-dev
  clang libclang-rt-dev llvm
  systemd debhelper lintian fakeroot
  iproute2 procps
  fio tgt tcpdump
  mmdebstrap vagrant vagrant-libvirt
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "deps: ok"
