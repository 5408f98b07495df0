#!/usr/bin/env bash
# mktftp.sh OUT SYSROOT KVER [SERIAL...]: lay out OUT/tftp the way the Raspberry Pi
# firmware fetches it over TFTP:
#   bootcode.bin                     Pi 3 boot ROM: always from the root
#   start.elf fixup.dat              Pi 3 (bootcode.bin tries <serial>/start.elf first)
#   start4.elf fixup4.dat            Pi 4 EEPROM bootloader (TFTP_PREFIX=0: <serial>/)
#   config.txt cmdline.txt           read by start*.elf from the same directory
#   kernel8.img initrd.img           named in config.txt (kernel=, initramfs)
#   bcm2837-rpi-3-*.dtb bcm2711-rpi-4-b.dtb ...   picked by board (upstream_kernel=1)
# <serial>/ (8 lowercase hex digits, the serial's low half) holds the same names as
# relative symlinks to the shared files, except its own cmdline.txt, which
# scsipub-shim-set-target rewrites per board.
set -euo pipefail
out=$1 sys=$2 kver=$3; shift 3
t=$out/tftp
fw=$sys/usr/lib/raspi-firmware
mkdir -p "$t"
install -m 0644 "$fw/bootcode.bin" "$fw/start.elf" "$fw/fixup.dat" "$fw/start4.elf" "$fw/fixup4.dat" "$t/"
install -m 0644 "$sys/boot/vmlinuz-$kver" "$t/kernel8.img"
install -m 0644 "$out/initrd.img" "$t/initrd.img"
install -m 0644 "$sys/usr/lib/linux-image-$kver"/broadcom/bcm2*-rpi-*.dtb "$t/"
cat >"$t/config.txt.tmp" <<EOC
# scsipub pi-shim (Debian $kver): netboot the scsipub iSCSI shim.
# Keys as in Debian's raspi-firmware; upstream_kernel=1 picks the mainline DTB names.
arm_64bit=1
enable_uart=1
upstream_kernel=1
kernel=kernel8.img
initramfs initrd.img followkernel
EOC
mv "$t/config.txt.tmp" "$t/config.txt"
# The default cmdline.txt names no target: the shim says so on the console.
# Boards get theirs with scsipub-shim-set-target.
if [ ! -f "$t/cmdline.txt" ]; then
  echo "console=ttyS1,115200 console=tty0 scsipub.mode=pivot_root" >"$t/cmdline.txt.tmp"
  mv "$t/cmdline.txt.tmp" "$t/cmdline.txt"
fi
for s in "$@"; do
  case $s in
    [0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ;;
    *) echo "pi-shim: serial '$s' is not 8 lowercase hex digits" >&2; exit 1 ;;
  esac
  mkdir -p "$t/$s"
  for f in "$t"/*; do
    [ -f "$f" ] || continue
    b=$(basename "$f")
    case $b in bootcode.bin|cmdline.txt) continue ;; esac
    ln -sfn "../$b" "$t/$s/$b"
  done
  [ -f "$t/$s/cmdline.txt" ] || cp "$t/cmdline.txt" "$t/$s/cmdline.txt"
done
