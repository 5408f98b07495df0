# Helpers for the pi-shim lab tests (issue 11): emulated arm64 boards
# (qemu-system-aarch64 -M virt, TCG) booting the shim's kernel + initramfs from
# $OUT/tftp with a given command line. Source after common.sh; set OUT (the shim's
# build directory) and PI_TIMEOUT (seconds), then PI_DIR with pi_scratch or pi_lab_up
# (below).
#   pi_boot NAME CMDLINE   start board NAME (console: $PI_DIR/NAME.log, input: the fifo
#                          $PI_DIR/NAME.in); PI_MAC=... sets its MAC, PI_TFTP=DIR
#                          serves DIR over QEMU's own TFTP server (DHCP next-server
#                          10.0.2.2), PI_SMP=N its CPUs (default 2);
#                          PI_MACHINE=raspi3b boots QEMU's Raspberry Pi 3 Model B
#                          with Debian's bcm2837-rpi-3-b.dtb instead of -M virt
#   pi_wait_log NAME RE    until NAME's console shows RE (false if it powered off first)
#   pi_say NAME LINE       type LINE on NAME's console
#   pi_wait_off [NAME]     until the board (default: the last booted) powered itself off
#   pi_stop                kill every board and console reader
#   ms_since               milliseconds since the last pi_boot
declare -A PI_PIDS=()
PI_LAST= CAT_PIDS=
pi_stop() {
  local p
  for p in "${PI_PIDS[@]}" $CAT_PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  PI_PIDS=() CAT_PIDS=
}

pi_boot() {
  local n=$1 cmdline=$2 net=user,id=n0 dev=virtio-net-pci,netdev=n0
  [ -z "${PI_TFTP:-}" ] || net+=",tftp=$PI_TFTP"
  [ -z "${PI_MAC:-}" ] || dev+=",mac=$PI_MAC"
  mkfifo "$PI_DIR/$n.in" "$PI_DIR/$n.out"
  : >"$PI_DIR/$n.log"
  cat "$PI_DIR/$n.out" >"$PI_DIR/$n.log" &
  CAT_PIDS+=" $!"
  PI_T0=$(date +%s%N)
  local mach=(-M virt -cpu cortex-a57 -smp "${PI_SMP:-2}" -m 512)
  if [ "${PI_MACHINE:-virt}" = raspi3b ]; then
    # The Pi 3 Model B as QEMU has it (4 Cortex-A53, 1 GiB, BCM2837 peripherals) with
    # Debian's own device tree; its only NIC is a USB one on the dwc2 host port.
    mach=(-M raspi3b -dtb "$OUT/tftp/bcm2837-rpi-3-b.dtb")
    dev=${dev/virtio-net-pci/usb-net}
  fi
  qemu-system-aarch64 "${mach[@]}" -accel tcg,thread=multi \
    -nographic -no-reboot -kernel "$OUT/tftp/kernel8.img" -initrd "$OUT/tftp/initrd.img" \
    -append "$cmdline" -netdev "$net" -device "$dev" \
    -chardev "pipe,id=s0,path=$PI_DIR/$n" -serial chardev:s0 -monitor none -display none \
    </dev/null >"$PI_DIR/$n.qemu" 2>&1 &
  PI_PIDS[$n]=$!
  PI_LAST=$n
}
pi_wait_log() {
  wait_until "$PI_TIMEOUT" bash -c "grep -q '$2' '$PI_DIR/$1.log' || ! kill -0 ${PI_PIDS[$1]} 2>/dev/null"
  grep -q "$2" "$PI_DIR/$1.log"
}
pi_say() { echo "$2" >"$PI_DIR/$1.in"; }
pi_wait_off() {   # the board powered itself off (QEMU exited)
  wait_until "$PI_TIMEOUT" bash -c "! kill -0 ${PI_PIDS[${1:-$PI_LAST}]} 2>/dev/null"
}
ms_since() { echo $(( ($(date +%s%N) - PI_T0) / 1000000 )); }

# pi_scratch: a scratch PI_DIR under build/lab, removed at exit with the boards and the
# lab VM (board consoles and the lab's logs printed first when a check failed).
pi_scratch() {
  PI_DIR=$(mktemp -d "$TOP/build/lab/pi.XXXXXX")
  trap 'pi_stop; [ "$FAILED" -eq 0 ] || { for f in "$PI_DIR"/*.log; do echo "--- $f"; tail -n 40 "$f"; done; lab_logs; }; lab_stop; rm -rf "$PI_DIR"' EXIT
}
# pi_tftp_root: TROOT, a TFTP root of the test's own holding the shim's config.txt and
# cmdline.txt (what scsipub-shim-set-target edits).
pi_tftp_root() {
  TROOT=$PI_DIR/tftp
  mkdir -p "$TROOT"
  cp "$OUT/tftp/config.txt" "$OUT/tftp/cmdline.txt" "$TROOT/"
}
# pi_lab_up: pi_scratch, the lab VM on a free port with the stack serving $IMAGES
# (exits the test when either fails), then pi_tftp_root.
pi_lab_up() {
  pi_scratch
  LAB_PORT=$(free_port); export LAB_PORT
  lab_boot || { fail "lab VM boots"; finish; exit 1; }
  if start_stack; then pass "stack starts in the lab (catalog: $NAME)"; else
    fail "stack starts in the lab (catalog: $NAME)"; finish; exit 1; fi
  pi_tftp_root
}
