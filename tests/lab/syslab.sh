# The systemd lab guest (issue 9; sourced after common.sh, which brings lab.sh's
# lab_exec, lab_logs and lab_stop):
#   sys_up [HOSTPORT:GUESTPORT...]  build (cached) the Debian 12 image of
#                 tests/lab/build-sysguest.sh, make this run's copy-on-write overlay
#                 of it, boot it with QEMU (TCG) on its own kernel and initramfs
#                 (root=/dev/vda, console ttyS0 in RUN/console.log), forward each
#                 host port (127.0.0.1) to the guest port, and wait (bounded) for the
#                 guest's command agent. The guest keeps its disk across sys_reboot.
#   sys_reboot    "systemctl reboot" in the guest (QEMU restarts it in place) and
#                 wait for the agent again.
#   sys_wait_boot wait until systemd finished starting up (is-system-running --wait);
#                 prints the state (running or degraded) and the failed units.
SYS_MEM=${SYS_MEM:-1536}
SYS_BOOT_TIMEOUT=${SYS_BOOT_TIMEOUT:-240}

sys_up() {
  local g
  g=$("$LAB_TOP/tests/lab/build-sysguest.sh") || { echo "syslab: image build failed" >&2; return 1; }
  SYS_IMG=$g
  mkdir -p "$LAB_TOP/build/lab"
  LAB_RUN=$(mktemp -d "$LAB_TOP/build/lab/run.XXXXXX") || return 1
  qemu-img create -q -f qcow2 -F raw -b "$g/root.img" "$LAB_RUN/disk.qcow2" || return 1
  local fwd="" p
  for p in "$@"; do fwd+=",hostfwd=tcp:127.0.0.1:${p%%:*}-:${p##*:}"; done
  local kernel=$g/vmlinux
  [ -f "$kernel" ] || kernel=$g/vmlinuz
  # No -no-reboot: "systemctl reboot" restarts the guest inside the same QEMU.
  # restrict=on: the guest reaches nothing beyond the forwarded ports (offline).
  qemu-system-x86_64 -accel tcg,thread=multi -cpu "$LAB_TCG_CPU" -m "$SYS_MEM" -smp 2 -nographic \
    -kernel "$kernel" -initrd "$g/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 panic=-1 quiet loglevel=4 systemd.show_status=false net.ifnames=0 scsipub.repo=$LAB_TOP scsipub.run=$LAB_RUN" \
    -drive "file=$LAB_RUN/disk.qcow2,format=qcow2,if=virtio,cache=unsafe" \
    -netdev "user,id=n0,restrict=on$fwd" -device virtio-net-pci,netdev=n0 \
    -virtfs local,path="$LAB_TOP",mount_tag=repo,security_model=none \
    -serial "file:$LAB_RUN/console.log" -monitor none -display none \
    </dev/null >"$LAB_RUN/qemu.log" 2>&1 &
  LAB_PID=$!
  sys_wait_agent
}

sys_wait_agent() {
  local end=$((SECONDS + SYS_BOOT_TIMEOUT))
  while [ ! -f "$LAB_RUN/ready" ]; do
    if ! kill -0 "$LAB_PID" 2>/dev/null || [ "$SECONDS" -ge "$end" ]; then
      echo "syslab: guest agent did not come up; console:" >&2
      tail -n 40 "$LAB_RUN/console.log" "$LAB_RUN/qemu.log" >&2
      return 1
    fi
    sleep 0.2
  done
}

sys_wait_boot() {
  lab_exec "s=\$(timeout $SYS_BOOT_TIMEOUT systemctl is-system-running --wait); echo \$s
    systemctl --failed --no-legend --plain | sed 's/^/  failed: /'
    [ \"\$s\" = running ] || [ \"\$s\" = degraded ]"
}

sys_reboot() {
  rm -f "$LAB_RUN/ready"
  lab_exec "systemd-run --on-active=1 --quiet systemctl reboot" >/dev/null || return 1
  sys_wait_agent
}
