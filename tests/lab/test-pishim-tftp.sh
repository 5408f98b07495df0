#!/usr/bin/env bash
# Issue 11, acceptance 5 (no VM): the pi-shim TFTP root against the real Raspberry Pi
# firmware and a real TFTP server.
#  - every file name the layout relies on is one the firmware looks for: the strings
#    of Debian's bootcode.bin (Pi 3 boot ROM stage 2), start.elf and start4.elf
#    (file names, config.txt keys, the DTB name pattern bcm%d-rpi-%s.dtb and board
#    suffixes); names set by config.txt (kernel=, initramfs) exist in each directory;
#  - every file of the root and of a per-serial directory is fetched through
#    tftpd-hpa (in.tftpd on a loopback port) by tftp-hpa and by curl, byte-identical;
#  - scsipub-shim-set-target rewrites one board's cmdline.txt atomically: TFTP reads
#    during 40 rewrites only ever see a whole old or new line; the other board's and
#    the default cmdline.txt stay as they were;
#  - the initramfs is a cpio with /init, the shim's scripts parse.
source "$(dirname "$0")/common.sh"
OUT=$TOP/build/pi-shim
S1=abcd1234 S2=0badc0de

echo "== build (make -C pi-shim)"
if ! make -s -C "$TOP/pi-shim" OUT="$OUT" SERIALS="$S1 $S2"; then
  fail "make -C pi-shim"; finish; exit 1
fi
T=$OUT/tftp
FW=$(mktemp -d)
W=$(mktemp -d)
TFTPD_PID=
trap '[ -z "$TFTPD_PID" ] || kill "$TFTPD_PID" 2>/dev/null; rm -rf "$FW" "$W"' EXIT
for f in bootcode.bin start.elf start4.elf; do strings -n 3 "$T/$f" >"$FW/$f.strings"; done
has() { grep -qxF -- "$2" "$FW/$1.strings"; }      # has FIRMWARE STRING
hasp() { grep -qF -- "$2" "$FW/$1.strings"; }      # has FIRMWARE SUBSTRING

echo "== names against the firmware's strings"
check "bootcode.bin (Pi 3 ROM) is in the TFTP root" test -s "$T/bootcode.bin"
for n in start.elf fixup.dat config.txt; do
  check "bootcode.bin looks for $n; the root and <serial>/ have it" \
    bash -c "grep -qxF '$n' '$FW/bootcode.bin.strings' && [ -s '$T/$n' ] && [ -s '$T/$S1/$n' ]"
done
for e in start.elf start4.elf; do
  for n in config.txt cmdline.txt kernel8.img; do
    check "$e looks for $n" has "$e" "$n"
  done
  for k in arm_64bit enable_uart upstream_kernel kernel; do
    check "$e knows config.txt key $k" has "$e" "$k"
  done
  check "$e parses 'initramfs FILE followkernel'" hasp "$e" "initramfs %64s followkernel"
  check "$e builds DTB names as bcm%d-rpi-%s.dtb" has "$e" "bcm%d-rpi-%s.dtb"
done
check "start4.elf is the BCM2711 (Pi 4) firmware" has start4.elf bcm2711
# start4.elf/fixup4.dat are the names the Pi 4 EEPROM bootloader fetches: the EEPROM
# image is not in Debian, so only their presence is checked here.
check "start4.elf + fixup4.dat in the root and <serial>/" \
  bash -c "[ -s '$T/start4.elf' ] && [ -s '$T/fixup4.dat' ] && [ -s '$T/$S1/start4.elf' ] && [ -s '$T/$S1/fixup4.dat' ]"
for d in "$T"/bcm*-rpi-*.dtb; do
  b=$(basename "$d" .dtb); soc=${b%%-rpi-*}; board=${b#*-rpi-}
  check "$b.dtb = bcm%d-rpi-%s.dtb with $soc and board '$board' known to start.elf and start4.elf" \
    bash -c "grep -qxF '$soc' '$FW/start.elf.strings' && grep -qxF '$board' '$FW/start.elf.strings' && grep -qxF '$board' '$FW/start4.elf.strings'"
done
for b in bcm2837-rpi-3-b bcm2837-rpi-3-b-plus bcm2711-rpi-4-b; do
  check "DTB for $b present" test -s "$T/$b.dtb"
done
kern=$(sed -n 's/^kernel=//p' "$T/config.txt")
initrd=$(sed -n 's/^initramfs \([^ ]*\) followkernel$/\1/p' "$T/config.txt")
check "config.txt names kernel ($kern) and initramfs ($initrd)" test -n "$kern" -a -n "$initrd"
for d in "$T" "$T/$S1" "$T/$S2"; do
  check "$(basename "$d")/: $kern and $initrd are there" test -s "$d/$kern" -a -s "$d/$initrd"
done
unknown=$(cd "$T" && for f in *; do
  [ -d "$f" ] && continue
  case $f in "$kern"|"$initrd"|cmdline.txt|config.txt|bootcode.bin|start.elf|fixup.dat|start4.elf|fixup4.dat|bcm*-rpi-*.dtb) ;; *) echo "$f" ;; esac
done)
check "no file in the TFTP root that the firmware would not fetch (${unknown:-none})" test -z "$unknown"

echo "== initramfs"
size=$(stat -c %s "$T/$initrd")
echo "initramfs: $size bytes ($((size / 1024)) KiB)"
xz -dc "$T/$initrd" | cpio -it --quiet >"$W/list" 2>/dev/null
check "initramfs is an xz cpio with /init, busybox, iscsistart and kexec" \
  bash -c "grep -qx init '$W/list' && grep -qx bin/busybox '$W/list' && grep -qx sbin/iscsistart '$W/list' && grep -qx sbin/kexec '$W/list'"
check "initramfs has iscsi_tcp, virtio_net, genet, lan78xx, smsc95xx, ext4" \
  bash -c "for m in iscsi_tcp virtio_net genet lan78xx smsc95xx ext4; do grep -q \"/\$m.ko\$\" '$W/list' || exit 1; done"
check "the shim's init and udhcpc script parse (busybox sh -n)" \
  bash -c "busybox sh -n '$TOP/pi-shim/init' && busybox sh -n '$TOP/pi-shim/udhcpc.script' && sh -n '$TOP/pi-shim/scsipub-shim-set-target'"

echo "== TFTP (tftpd-hpa on loopback, tftp-hpa and curl)"
port=
for i in $(seq 100); do
  p=$((20000 + RANDOM % 30000))
  grep -qi ":$(printf '%04X' "$p") " /proc/net/udp /proc/net/udp6 2>/dev/null || { port=$p; break; }
done
in.tftpd -L -a "127.0.0.1:$port" -u root -s "$T" &
TFTPD_PID=$!
wait_until 10 bash -c "grep -qi ':$(printf '%04X' "$port") ' /proc/net/udp"
check "in.tftpd listens on 127.0.0.1:$port/udp" kill -0 "$TFTPD_PID"
get_tftp() { tftp 127.0.0.1 "$port" -m binary -c get "$1" "$2" >/dev/null 2>&1; }
get_curl() { curl -fsS --tftp-blksize 1468 -o "$2" "tftp://127.0.0.1:$port/$1"; }
same() { cmp -s "$1" "$2"; }
t0=$(date +%s%N)
for d in "" "$S1/"; do
  for f in bootcode.bin start.elf fixup.dat start4.elf fixup4.dat config.txt cmdline.txt bcm2837-rpi-3-b.dtb bcm2711-rpi-4-b.dtb; do
    [ "$d$f" = "$S1/bootcode.bin" ] && continue
    check "tftp-hpa get $d$f" bash -c "$(declare -f get_tftp same); port=$port; get_tftp '$d$f' '$W/x' && same '$W/x' '$T/$d$f'"
  done
  for f in "$kern" "$initrd"; do
    check "curl tftp:// get $d$f (blksize 1468)" bash -c "$(declare -f get_curl same); port=$port; get_curl '$d$f' '$W/x' && same '$W/x' '$T/$d$f'"
  done
done
echo "TFTP fetch of the boot set x2: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
check "a name outside the TFTP root is refused" bash -c "! tftp 127.0.0.1 $port -m binary -c get ../../../etc/passwd '$W/y' 2>/dev/null || [ ! -s '$W/y' ]"

echo "== scsipub-shim-set-target"
SET=$OUT/bin/scsipub-shim-set-target
def0=$(cat "$T/cmdline.txt"); s1old=$(cat "$T/$S1/cmdline.txt"); s2old=$(cat "$T/$S2/cmdline.txt")
IQN_A=iqn.2025-01.pub.scsipub:image.a IQN_B=iqn.2025-01.pub.scsipub:p.acct1.ci-pi-abc123
check "set-target --serial $S1 --portal --mode" \
  "$SET" "$IQN_A" --tftp-root "$T" --serial "$S1" --portal 10.0.0.1:3260 --mode pivot_root
check "$S1/cmdline.txt fetched over TFTP names $IQN_A" \
  bash -c "$(declare -f get_tftp); port=$port; get_tftp '$S1/cmdline.txt' '$W/c' && grep -q 'scsipub.iqn=$IQN_A\$' '$W/c' && grep -q 'scsipub.portal=10.0.0.1:3260' '$W/c'"
# Rewrites alternate A and B while TFTP reads go on: every read is a whole line.
line_a=$(cat "$T/$S1/cmdline.txt")
"$SET" "$IQN_B" --tftp-root "$T" --serial "$S1" >/dev/null
line_b=$(cat "$T/$S1/cmdline.txt")
( for i in $(seq 20); do "$SET" "$IQN_A" --tftp-root "$T" --serial "$S1" >/dev/null; "$SET" "$IQN_B" --tftp-root "$T" --serial "$S1" >/dev/null; done ) &
wpid=$!
bad=0 reads=0
while kill -0 "$wpid" 2>/dev/null || [ "$reads" -lt 5 ]; do
  get_tftp "$S1/cmdline.txt" "$W/r" || continue
  reads=$((reads + 1))
  r=$(cat "$W/r")
  [ "$r" = "$line_a" ] || [ "$r" = "$line_b" ] || { bad=$((bad + 1)); echo "torn read: '$r'"; }
  [ "$reads" -lt 500 ] || break
done
wait "$wpid"
check "TFTP reads during 40 rewrites: $reads reads, none torn" test "$bad" -eq 0 -a "$reads" -ge 5
check "the other board's and the default cmdline.txt are untouched" \
  bash -c "[ \"\$(cat '$T/$S2/cmdline.txt')\" = '$s2old' ] && [ \"\$(cat '$T/cmdline.txt')\" = '$def0' ]"
check "set-target refuses a name with a blank" bash -c "! '$SET' 'iqn.2025-01.pub.scsipub:a b' --tftp-root '$T' 2>/dev/null"
check "set-target refuses an unknown mode" bash -c "! '$SET' '$IQN_A' --mode fastboot --tftp-root '$T' 2>/dev/null"
check "no temporary file left behind" bash -c "[ -z \"\$(ls -A '$T/$S1' | grep '^\.')\" ]"
echo "$s1old" >"$T/$S1/cmdline.txt"   # leave the board as the build made it
finish
