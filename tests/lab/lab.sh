# The lab VM (sourced by the lab tests and scripts/run-service.sh).
#   lab_boot    bring the build up to date (make all tools: the guest runs what the
#               host built, so a test run by hand on a fresh checkout needs nothing
#               built first), then boot Debian 12's kernel under QEMU with the host
#               /usr and the repo over 9p; the guest's port LAB_PORT (and
#               LAB_API_PORT, LAB_TLS_PORT, LAB_HTTPS_PORT when set) is forwarded
#               to the host's LAB_HOST:LAB_PORT (LAB_HOST defaults to 127.0.0.1;
#               LAB_API_HOST, when set, is the host address of the plain API port
#               only). Waits (bounded)
#               until the guest agent is ready. A guest that does not come up
#               within LAB_BOOT_TIMEOUT seconds (TCG has been seen, rarely, to hang
#               before the kernel reaches /init) is powered off and booted again, up
#               to LAB_BOOT_TRIES boots in all; each failed boot's console is printed.
#   lab_exec CMD  run CMD with bash inside the guest as root; prints its output and
#               returns its exit status (bounded by LAB_EXEC_TIMEOUT seconds).
#   lab_stop    power the guest off.
# KVM is used when /dev/kvm can run the guest; otherwise TCG (see
# ../shared/lab-recipe.md: on the build machines only TCG works).
# LAB_TSC (1): the guest keeps time with the TSC (kernel argument tsc=reliable), as on
#               real hardware. Under TCG every vCPU's TSC is the host's, yet the
#               kernel's boot-time check often calls them unsynchronized and falls
#               back to the emulated HPET, whose every reading (a clock_gettime, each
#               kernel timestamp) is an MMIO exit: about 1 us instead of 70 ns.
#               lab_boot then refuses a guest that keeps time otherwise (a KVM
#               guest's kvm-clock, as cheap, is accepted) or whose clock steps
#               backwards between vCPUs (build/tools/clock-check in the guest).
#               LAB_TSC=0: the kernel's own choice. LAB_KERNEL_ARGS: more kernel
#               arguments.
# LAB_TCG_CPU (max,-erms,-fsrm): QEMU's CPU model under TCG. -cpu max offers ERMS
#               and FSRM, so the guest's kernel (copy_to/from_user, clear_page,
#               memset) and glibc copy with `rep movsb`/`rep stosb`, which a real CPU
#               runs at memory speed and TCG one byte per emulated iteration: 3-5x
#               slower per byte than `rep movsq` (measured in the guest: 256 MiB read
#               from tmpfs 926 vs 304 ms, 1000 MiB from /dev/zero 2215 vs 406 ms).
#               Without them the kernel copies with `rep movsq` (REP_GOOD), as it
#               does on CPUs without ERMS. LAB_TCG_CPU=max: the whole model.
LAB_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB_MEM=${LAB_MEM:-1024}
LAB_EXEC_TIMEOUT=${LAB_EXEC_TIMEOUT:-300}
LAB_BOOT_TIMEOUT=${LAB_BOOT_TIMEOUT:-120}
LAB_BOOT_TRIES=${LAB_BOOT_TRIES:-2}
LAB_TSC=${LAB_TSC:-1}
LAB_TCG_CPU=${LAB_TCG_CPU:-max,-erms,-fsrm}
LAB_RUN=
LAB_PID=
LAB_SEQ=0

# KVM when /dev/kvm can really run the guest, else TCG. The first boot with a
# writable /dev/kvm tries KVM (short timeout) and the verdict is cached in
# build/lab/guest/accel; LAB_KVM=0 forces TCG, LAB_KVM=1 forces KVM.
lab_accel_args() {
  case $1 in
    kvm) echo "-accel kvm -cpu host" ;;
    *) echo "-accel tcg,thread=multi -cpu $LAB_TCG_CPU" ;;
  esac
}

# What the last boot ran on, for reports: "kvm", or "tcg (-cpu MODEL)".
lab_accel_name() {
  local a
  a=$(cat "$LAB_TOP/build/lab/guest/accel" 2>/dev/null || echo tcg)
  [ "$a" = kvm ] && echo kvm || echo "tcg (-cpu $LAB_TCG_CPU)"
}

lab_boot() {
  local g verdict
  make -s -C "$LAB_TOP" all tools >&2 || { echo "lab: the build failed" >&2; return 1; }
  g=$("$LAB_TOP/tests/lab/build-guest.sh") || { echo "lab: guest build failed" >&2; return 1; }
  verdict=$(cat "$g/accel" 2>/dev/null || true)
  case "${LAB_KVM:-auto}" in
    0) verdict=tcg ;;
    1) verdict=kvm ;;
  esac
  [ -n "$verdict" ] || [ -w /dev/kvm ] || verdict=tcg
  if [ -z "$verdict" ]; then
    if LAB_BOOT_TIMEOUT=30 lab_boot_with "$g" kvm 2>/dev/null; then
      echo kvm >"$g/accel"; return 0
    fi
    echo tcg >"$g/accel"; verdict=tcg
    echo "lab: KVM cannot run the guest here; using TCG from now on" >&2
  fi
  local try
  for ((try = 1; try <= LAB_BOOT_TRIES; try++)); do
    lab_boot_with "$g" "$verdict" && return 0
    [ "$try" -lt "$LAB_BOOT_TRIES" ] &&
      echo "lab: boot $try of $LAB_BOOT_TRIES failed; powering on again" >&2
  done
  return 1
}

lab_boot_with() { # GUEST_DIR ACCEL
  local g=$1
  LAB_RUN=$(mktemp -d "$LAB_TOP/build/lab/run.XXXXXX")
  local kernel=$g/vmlinux
  [ -f "$kernel" ] || kernel=$g/vmlinuz
  local fwd="hostfwd=tcp:${LAB_HOST:-127.0.0.1}:${LAB_PORT:?LAB_PORT unset}-:${LAB_PORT}"
  # LAB_API_PORT (optional): the HTTP API's port, forwarded the same way.
  # LAB_DISK (optional): a raw disk image the guest sees as /dev/vda (state that must
  # survive a reboot of the VM).
  [ -z "${LAB_API_PORT:-}" ] || fwd+=",hostfwd=tcp:${LAB_API_HOST:-${LAB_HOST:-127.0.0.1}}:${LAB_API_PORT}-:${LAB_API_PORT}"
  # LAB_HTTPS_PORT (optional): the API's HTTPS port, forwarded the same way.
  [ -z "${LAB_HTTPS_PORT:-}" ] || fwd+=",hostfwd=tcp:${LAB_HOST:-127.0.0.1}:${LAB_HTTPS_PORT}-:${LAB_HTTPS_PORT}"
  # LAB_TLS_PORT (optional): the portal's TLS port, forwarded the same way.
  [ -z "${LAB_TLS_PORT:-}" ] || fwd+=",hostfwd=tcp:${LAB_HOST:-127.0.0.1}:${LAB_TLS_PORT}-:${LAB_TLS_PORT}"
  local kargs="console=ttyS0 panic=-1 quiet loglevel=4"
  [ "$LAB_TSC" = 0 ] || kargs+=" tsc=reliable"
  # shellcheck disable=SC2046
  qemu-system-x86_64 $(lab_accel_args "$2") -m "$LAB_MEM" -smp 2 -nographic -no-reboot \
    -kernel "$kernel" -initrd "$g/initrd.gz" \
    -append "$kargs ${LAB_KERNEL_ARGS:-} scsipub.repo=$LAB_TOP scsipub.run=$LAB_RUN" \
    -netdev "user,id=n0,$fwd" -device virtio-net-pci,netdev=n0 \
    -virtfs local,path=/usr,mount_tag=usr,security_model=none,readonly=on \
    -virtfs local,path="$LAB_TOP",mount_tag=repo,security_model=none \
    ${LAB_DISK:+-drive "file=$LAB_DISK,format=raw,if=virtio"} \
    -serial "file:$LAB_RUN/console.log" -monitor none -display none \
    </dev/null >"$LAB_RUN/qemu.log" 2>&1 &
  LAB_PID=$!
  local end=$((SECONDS + LAB_BOOT_TIMEOUT))
  while [ ! -f "$LAB_RUN/ready" ]; do
    if ! kill -0 "$LAB_PID" 2>/dev/null || [ "$SECONDS" -ge "$end" ]; then
      echo "lab: guest did not come up ($2); console:" >&2
      tail -n 40 "$LAB_RUN/console.log" "$LAB_RUN/qemu.log" >&2
      lab_stop; return 1
    fi
    sleep 0.2
  done
  echo "lab: guest up ($(cat "$LAB_RUN/ready"), $2) in $LAB_RUN" >&2
  [ "$LAB_TSC" = 0 ] || lab_clock_ok || { lab_stop; return 1; }
}

# The guest's clock (LAB_TSC): the TSC chosen (or KVM's paravirtual clock, as cheap to
# read, which a KVM guest may prefer) and one clock across the vCPUs.
lab_clock_ok() {
  local cs out rc
  # One round trip: the clocksource's name on the first line, then clock-check's.
  out=$(lab_exec "cat /sys/devices/system/clocksource/clocksource0/current_clocksource &&
    $LAB_TOP/build/tools/clock-check")
  rc=$?
  cs=${out%%$'\n'*}
  case $cs in
    tsc | tsc-early | kvm-clock) ;;
    *) echo "lab: the guest keeps time with \"$cs\", not the TSC (LAB_TSC=0 to accept it)" >&2
       return 1 ;;
  esac
  [ "$rc" = 0 ] && return 0
  echo "lab: the guest's clock ($cs) is not one clock across its vCPUs: ${out#*$'\n'} (LAB_TSC=0: the kernel's choice)" >&2
  return 1
}

lab_exec() {
  [ -n "$LAB_RUN" ] || { echo "lab: not booted" >&2; return 1; }
  LAB_SEQ=$((LAB_SEQ + 1))
  local id="$LAB_RUN/cmd/$(date +%s%N)-$$-$BASHPID-$LAB_SEQ"
  printf '%s\n' "$*" >"$id.tmp" && mv "$id.tmp" "$id.sh"
  local end=$((SECONDS + LAB_EXEC_TIMEOUT)) rc=
  # The agent writes the exit status and a newline to ID.rc when the command ends;
  # read succeeds only once the line is whole.
  until [ -f "$id.rc" ] && IFS= read -r rc <"$id.rc"; do
    if [ "$SECONDS" -ge "$end" ] || ! kill -0 "$LAB_PID" 2>/dev/null; then
      echo "lab: command timed out or guest died: $*" >&2
      cat "$id.out" 2>/dev/null
      return 124
    fi
    sleep 0.05
  done
  cat "$id.out"
  rm -f "$id.sh" "$id.out" "$id.rc"
  return "$rc"
}

# Copy the guest's logs next to the test's output (called on failure and at exit).
lab_logs() {
  [ -n "$LAB_RUN" ] && [ -n "$LAB_PID" ] && kill -0 "$LAB_PID" 2>/dev/null || return 0
  LAB_EXEC_TIMEOUT=20 lab_exec "for f in /var/log/scsipub-*.log; do echo \"--- \$f\"; tail -n 60 \$f; done" 2>/dev/null
}

lab_stop() {
  if [ -n "$LAB_PID" ] && kill -0 "$LAB_PID" 2>/dev/null; then
    kill "$LAB_PID" 2>/dev/null
    local i
    for i in $(seq 50); do kill -0 "$LAB_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$LAB_PID" 2>/dev/null
    wait "$LAB_PID" 2>/dev/null
  fi
  LAB_PID=
  [ -n "$LAB_RUN" ] && [ "${LAB_KEEP_RUN:-0}" = 0 ] && rm -rf "$LAB_RUN"
  LAB_RUN=
}
