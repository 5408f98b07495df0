# Shared helpers for the lab acceptance tests (sourced). Requires tests/lab/lab.sh.
# Each test file boots its own VM, counts checks, and ends with "N passed, M failed".
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lab/lab.sh
source "$TOP/tests/lab/lab.sh"

BLANK_IQN=iqn.2025-01.pub.scsipub:blank
PATTERN=$TOP/build/tools/iscsi-pattern
GUEST_STATE=/var/lib/scsipub
IMAGES=$TOP/build/lab/images
# Prefix for a guest command that needs session_disk / session_disk_wait
# (tests/lab/disk-guest.sh): lab_exec "$GUEST_DISK
#   dev=\$(session_disk) ...".
GUEST_DISK="source $TOP/tests/lab/disk-guest.sh"

# check, pass, fail, finish and the counters.
# shellcheck source=tests/check.sh
source "$TOP/tests/check.sh"

# For the by-hand profiles (tests/lab/prof-*.sh): prof_boot NAME sets OUT (PROF_OUT, kept;
# else a temporary directory, removed at exit), g (lab_exec) and die (NAME: message, the
# guest's logs, exit 1), makes the test image, and boots the lab VM with the portal on a
# free port (LAB_PORT), stopped at exit.
prof_boot() {
  PROF_NAME=$1
  OUT=${PROF_OUT:-$(mktemp -d)}
  mkdir -p "$OUT" || exit 1
  g() { lab_exec "$@"; }
  die() { echo "$PROF_NAME: $*"; lab_logs; exit 1; }
  make_test_image >/dev/null
  LAB_EXEC_TIMEOUT=600
  LAB_PORT=$(free_port); export LAB_PORT
  lab_boot || die "lab VM did not boot"
  trap 'lab_stop; [ -n "${PROF_OUT:-}" ] || rm -rf "$OUT"' EXIT
}

# A TCP port that nothing on the host listens on, for the forwarded portal.
free_port() {
  local p i
  for i in $(seq 200); do
    p=$((20000 + RANDOM % 30000))
    grep -qi ":$(printf '%04X' "$p") " /proc/net/tcp /proc/net/tcp6 2>/dev/null || { echo "$p"; return 0; }
  done
  return 1
}

# Boot this test's VM with a fresh forwarded port; on exit print the guest's daemon
# logs when anything failed, then stop the VM.
lab_up() {
  LAB_PORT=$(free_port); export LAB_PORT
  lab_boot || { fail "lab VM boots"; finish; exit 1; }
  trap '[ "$FAILED" -eq 0 ] || lab_logs; lab_stop' EXIT
}

# wait_until TIMEOUT_S CMD...: poll CMD (0.2 s apart) until it succeeds or TIMEOUT_S
# passes. Used to wait for asynchronous teardown; never to assert on timing.
wait_until() {
  local t=$1; shift
  local end=$((SECONDS + t))
  while ! "$@"; do
    [ "$SECONDS" -ge "$end" ] && return 1
    sleep 0.2
  done
}

# A small ext4 catalog image with known files, built on the host (mkfs.ext4 -d).
make_test_image() {
  mkdir -p "$IMAGES"
  local img=$IMAGES/testfs.img
  if [ ! -f "$img" ]; then
    local d; d=$(mktemp -d)
    echo "hello from the scsipub base image" >"$d/hello.txt"
    head -c 1048576 /dev/urandom >"$d/random.bin"
    sha256sum "$d/random.bin" | awk '{print $1}' >"$d/random.sha256"
    mkfs.ext4 -q -F -L testfs -d "$d" "$img.tmp" 16M >&2
    mv "$img.tmp" "$img"
    rm -rf "$d"
  fi
  echo "$img"
}

# start_stack [PORTAL ARGS...]: start scsipub-tcmu and scsipub-portal inside the guest,
# portal on LAB_PORT, advertising the host-side forwarded address, and wait until the
# portal accepts connections. STACK_API=1 also starts PostgreSQL and scsipub-api on
# LAB_API_PORT (issue 3 tests; set LAB_API_PORT before lab_up so it is forwarded). The
# portal's TLS listener is on LAB_TLS_PORT (issue 4; set it before lab_up so it is
# forwarded too; unset: 3261 inside the guest only). The API's HTTPS listener (with the
# portal's certificate) is on LAB_HTTPS_PORT (likewise; unset: 8443 in the guest only);
# STACK_API_ARGS are extra scsipub-api options. STACK_DISK_RESERVE=BYTES gives the
# handler and the portal that --disk-reserve (unset: their default). STACK_FETCH_ALLOW
# is the API's --fetch-allow-net (SCSIPUB_FETCH_ALLOW; unset: public addresses only).
# STACK_POOL is scsipub-cfgd's --pool (unset: none, so that every session object seen
# in configfs is a live session's). STACK_IO_THREADS is scsipub-tcmu's --io-threads
# (unset: its default). PostgreSQL's fresh cluster is made by the first start with
# STACK_API=1 and unpacked by the later ones (PG_TEMPLATE_DIR, scripts/pg-local.sh:
# initdb takes 47 s under TCG).
start_stack() {
  lab_exec "SCSIPUB_PORT=$LAB_PORT SCSIPUB_PUBLIC=127.0.0.1:$LAB_PORT SCSIPUB_IMAGES=$IMAGES \
    SCSIPUB_TLS_PORT=${LAB_TLS_PORT:-3261} \
    SCSIPUB_PORTAL_ARGS='$*' SCSIPUB_START_DAEMONS=1 SCSIPUB_API=${STACK_API:-0} \
    SCSIPUB_DISK_RESERVE=${STACK_DISK_RESERVE:-} SCSIPUB_FETCH_ALLOW=${STACK_FETCH_ALLOW:-} \
    SCSIPUB_API_HTTPS_PORT=${LAB_HTTPS_PORT:-8443} SCSIPUB_API_ARGS='${STACK_API_ARGS:-}' \
    SCSIPUB_POOL='${STACK_POOL:-}' SCSIPUB_IO_THREADS='${STACK_IO_THREADS:-}' \
    SCSIPUB_API_LISTEN=0.0.0.0:${LAB_API_PORT:-8080} PG_TEMPLATE_DIR=$TOP/build/lab \
    $TOP/vagrant/provision.sh start" || return 1
  wait_until 60 lab_exec "grep -q ':$(printf '%04X' "$LAB_PORT") 00000000:0000 0A' /proc/net/tcp" >/dev/null
}

# The guest's configfs has no user backstore and the target has no ACL left.
guest_configfs_clean() {
  lab_exec "! ls -d /sys/kernel/config/target/core/user_* 2>/dev/null | grep -q . && \
    [ -z \"\$(ls /sys/kernel/config/target/iscsi/$BLANK_IQN/tpgt_1/acls)\" ]" >/dev/null
}
guest_overlays_gone() {
  lab_exec "[ -z \"\$(ls -A $GUEST_STATE/overlays 2>/dev/null)\" ]" >/dev/null
}

# Run iscsi-pattern in the background with a "wait" step in its script:
#   pattern_bg ARGS...   start it (stdin from a fifo, output to a log)
#   pattern_at_wait      block (bounded) until it reached its "wait" step
#   pattern_resume       let it continue past "wait"
#   pattern_join         wait for it to finish; returns its exit status
pattern_bg() {
  PAT_DIR=$(mktemp -d)
  mkfifo "$PAT_DIR/in"
  "$PATTERN" "$@" <"$PAT_DIR/in" >"$PAT_DIR/out" 2>&1 &
  PAT_PID=$!
  exec 7>"$PAT_DIR/in"
}
pattern_at_wait() {
  wait_until 120 bash -c "grep -q '^waiting' '$PAT_DIR/out' || ! kill -0 $PAT_PID 2>/dev/null"
  grep -q '^waiting' "$PAT_DIR/out"
}
pattern_resume() { echo go >&7; }
pattern_join() {
  exec 7>&-
  wait "$PAT_PID"; local rc=$?
  cat "$PAT_DIR/out"; rm -rf "$PAT_DIR"
  return $rc
}
