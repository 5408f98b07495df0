#!/usr/bin/env bash
# Disk budget (issue 8 §4, acceptance 5). The guest's overlays live on a small
# loop-mounted ext4 (160 MiB). Shows:
#  1. the per-session write limit is charged in filesystem blocks: one 512-byte sector
#     written every 4 KiB reaches a 1 MiB limit after 1 MiB / 4 KiB writes (128 KiB of
#     payload), the next new block gets DATA PROTECT 27/00, and the overlay occupies on
#     disk what was charged;
#  2. a session that fills the filesystem down to --disk-reserve gets WRITE errors
#     DATA PROTECT / SPACE ALLOCATION FAILED WRITE PROTECT (27/07 on the wire) after as
#     many 1 MiB writes as there was room, while an earlier session's data reads back;
#  3. with the filesystem below the reserve: a live session's new blocks get 27/07,
#     what it wrote before reads back exactly, the refused block reads zeros, rewrites
#     work; a new login gets Login Response 0x0302 (Out of resources); with room again
#     logins and writes work;
#  4. with no reserve, a really full filesystem (ENOSPC from the kernel) gives the same
#     27/07, never a crashed handler, and data written before reads back.
set -uo pipefail
source "$(dirname "$0")/common.sh"

MiB=1048576
OVL=$GUEST_STATE/overlays
url() { echo "iscsi://127.0.0.1:$LAB_PORT/$BLANK_IQN/0"; }
IQN=iqn.2025-01.test.scsipub:budget

# Bytes available on the overlays filesystem (f_bavail * f_frsize, as the daemons see it).
avail() { lab_exec "stat -f -c '%a %S' $OVL" | awk '{print $1 * $2}'; }
# Bytes the live overlay files occupy (st_blocks * 512).
overlay_disk_bytes() { lab_exec "stat -c '%b %B' $OVL/*.ovl" | awk '{s += $1 * $2} END {print s + 0}'; }
handler_pid() { lab_exec "pgrep -x scsipub-tcmu"; }
# stack RESERVE [PORTAL ARGS...]: (re)start the daemons with --disk-reserve RESERVE.
stack() { local r=$1; shift; STACK_DISK_RESERVE=$r start_stack "$@"; }
# between V LO HI: LO <= V <= HI.
between() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
room_again() {
  lab_exec "rm -f $OVL/ballast" && "$PATTERN" -c e=$IQN.again "$(url)" e:w:0:2048:70 e:r:0:2048:70
}

lab_up
check "a 160 MiB ext4 image is loop-mounted on the guest's overlays directory" \
  lab_exec "mkdir -p $OVL && truncate -s 160M /tmp/state.img && \
    mkfs.ext4 -q -F -m 0 -b 4096 /tmp/state.img && mount -o loop /tmp/state.img $OVL && \
    [ \"\$(stat -f -c %T $OVL)\" = ext2/ext3 ]"
A0=$(avail)
echo "overlays filesystem: $A0 bytes available after mkfs"

# ---- 1. the write limit counts filesystem blocks --------------------------------------
LIMIT=$MiB
check "stack starts (--anon-write-limit $LIMIT, --disk-reserve 16 MiB)" \
  stack $((16 * MiB)) --anon-write-limit $LIMIT
UNITS=$((LIMIT / 4096))
steps=()
for ((k = 0; k < UNITS; k++)); do steps+=("a:w:$((k * 8)):1:7"); done
steps+=("a:sense:w:$((UNITS * 8)):7:0x27:0")      # the next new block: DATA PROTECT 27/00
for ((k = 0; k < UNITS; k++)); do steps+=("a:r:$((k * 8)):1:7"); done
steps+=("a:z:$((UNITS * 8)):1" "a:w:1:1:8" "a:r:1:1:8" "a:r:0:1:7" wait)
pattern_bg -c a=$IQN.sparse "$(url)" "${steps[@]}"
if pattern_at_wait; then
  disk=$(overlay_disk_bytes)
  ok=$(grep -c '^ok a:w:' "$PAT_DIR/out")
  payload=$(( (ok - 1) * 512 ))
  echo "sparse pattern: $((ok - 1)) one-sector writes every 4 KiB accepted (payload $payload bytes, $(( (ok - 1) * 4096 )) charged), limit $LIMIT; overlay occupies $disk bytes"
  check "sparse writes: exactly limit/4096 = $UNITS one-sector writes accepted (+1 rewrite), then 27/00" \
    [ "$ok" -eq $((UNITS + 1)) ]
  check "the overlay occupies what was charged ($disk bytes on disk for $LIMIT charged, within 64 KiB)" \
    between "$disk" "$LIMIT" $((LIMIT + 65536))
else
  fail "sparse session reached its wait step"
fi
pattern_resume
check "sparse session: DATA PROTECT 27/00 on the next new block; every written sector reads back, the refused one reads zeros, rewrites in allocated blocks work" pattern_join
wait_until 60 lab_exec "[ -z \"\$(ls $OVL/*.ovl 2>/dev/null)\" ]" >/dev/null

# ---- 2. a session fills the filesystem down to the reserve ----------------------------
A1=$(avail)
RESERVE=$((A1 - 40 * MiB))
echo "reserve $RESERVE bytes ($A1 available: 40 MiB of room)"
check "stack restarts with --disk-reserve $RESERVE (default write limit 64 MiB)" stack $RESERVE
PID1=$(handler_pid)
steps=()
for ((k = 0; k < 8; k++)); do steps+=("a:w:$((k * 2048)):2048:$((20 + k))"); done
steps+=(wait)
for ((k = 0; k < 8; k++)); do steps+=("a:r:$((k * 2048)):2048:$((20 + k))"); done
pattern_bg -c a=$IQN.early "$(url)" "${steps[@]}"
check "an earlier session writes 8 MiB and stays logged in" pattern_at_wait
room=$(( $(avail) - RESERVE ))
steps=()
for ((k = 0; k < 64; k++)); do steps+=("b:w:$((k * 2048)):2048:$((40 + k))"); done
out=$("$PATTERN" -c b=$IQN.filler "$(url)" "${steps[@]}" 2>&1)
nb=$(grep -c '^ok b:w:' <<<"$out")
echo "filler: $nb writes of 1 MiB accepted with $room bytes of room above the reserve; then: $(grep -o 'WRITE(16): status.*' <<<"$out" | head -1)"
check "the filler's write past the reserve gets CHECK CONDITION 7/27/07 (SPACE ALLOCATION FAILED WRITE PROTECT) on the wire" \
  grep -q 'WRITE(16): status 0x02 sense 7/27/07' <<<"$out"
check "it got as many 1 MiB writes as there was room ($nb for $((room / MiB)) MiB, metadata slack 1)" \
  between "$nb" $((room / MiB - 1)) $((room / MiB))
pattern_resume
check "the earlier session's 8 MiB read back intact afterwards" pattern_join

# ---- 3. below the reserve: live sessions, new logins ----------------------------------
pattern_bg -c c=$IQN.live "$(url)" c:w:0:2048:60 c:w:4096:8:61 c:w:8192:1:62 wait \
  c:sense:w:100000:7:0x27:7 c:sense:w:9000:7:0x27:7 c:r:0:2048:60 c:r:4096:8:61 c:r:8192:1:62 \
  c:z:100000:1 c:z:9000:1 c:w:0:2048:63 c:r:0:2048:63 c:w:8193:7:64 c:r:8193:7:64
check "a live session writes 1 MiB + 4 KiB + 512 bytes" pattern_at_wait
A3=$(avail)
check "something else fills the filesystem to 8 MiB below the reserve (ballast file)" \
  lab_exec "fallocate -l $((A3 - RESERVE + 8 * MiB)) $OVL/ballast"
out=$("$PATTERN" -c d=$IQN.late "$(url)" d:w:0:8:1 2>&1)
echo "new login below the reserve: $(grep -o 'login as.*' <<<"$out" | head -1)"
check "a new anonymous login gets Login Response 0x0302 (Out of resources)" \
  grep -q 'Status: Out of resources(770)' <<<"$out"
check "the portal logs the refusal with the reserve" \
  lab_exec "grep -q 'refused, out of resources (0x0302).*below --disk-reserve $RESERVE' /var/log/scsipub-portal.log"
pattern_resume
check "the live session: new blocks get 27/07, data written before reads back exactly, refused blocks read zeros, rewrites (also of unwritten sectors in its blocks) work" \
  pattern_join
check "the handler logged the refusals" \
  lab_exec "grep -q 'refused: no space on the state filesystem' /var/log/scsipub-tcmu.log"
check "room again (ballast removed): a new session logs in, writes and reads" room_again
check "the handler never restarted or crashed (same pid)" [ "$(handler_pid)" = "$PID1" ]

# ---- 4. no reserve: the filesystem really full (ENOSPC from the kernel) ----------------
check "stack restarts with --disk-reserve 0" stack 0
PID2=$(handler_pid)
pattern_bg -c f=$IQN.full "$(url)" f:w:0:2048:80 wait \
  f:sense:w:50000:7:0x27:7 f:r:0:2048:80 f:z:50000:1 f:w:0:2048:81 f:r:0:2048:81
check "a session writes 1 MiB" pattern_at_wait
A4=$(avail)
check "the filesystem is filled to the last block (ballast, then zeros until ENOSPC)" \
  lab_exec "fallocate -l $((A4 - MiB)) $OVL/ballast && \
    { dd if=/dev/zero of=$OVL/ballast2 bs=4096 2>/dev/null; true; } && \
    [ \"\$(stat -f -c %a $OVL)\" -eq 0 ]"
pattern_resume
check "ENOSPC from the filesystem: the new block gets 27/07, the 1 MiB written before reads back, the refused block reads zeros, rewrites work" \
  pattern_join
check "the handler is alive and the same process (no crash on ENOSPC)" [ "$(handler_pid)" = "$PID2" ]
lab_exec "rm -f $OVL/ballast $OVL/ballast2"
check "after space came back: a new session logs in, writes and reads" \
  "$PATTERN" -c g=$IQN.after "$(url)" g:w:0:2048:90 g:r:0:2048:90
finish
