#!/bin/sh
# The lab guest's command agent (started by guest-init or the system guest's service
# with /bin/sh; it runs itself under bash when there is one). The host drops
# scripts into RUN/cmd/<id>.sh (over the 9p repo share); each runs in the background
# under bash, output in <id>.out, exit status in <id>.rc (written last, atomically).
# Writes RUN/ready once the guest is up. Used by tests/lab/lab.sh (lab_exec).
# The poll between rounds runs in the shell itself under bash (read -t on a FIFO that
# nobody writes), not as a usleep process, and slows from 50 ms to 250 ms after a
# second without a new command: each round (a fork and exec, and a directory listing
# over 9p) cost about 5 ms of a TCG guest's CPU, 7-10 % of it at 20 rounds a second,
# beside whatever a test measures.
if [ -z "${BASH_VERSION:-}" ] && [ -x /usr/bin/bash ]; then
  exec /usr/bin/bash "$0" "$@"
fi
run=$1
cmd=$run/cmd
mkdir -p "$cmd"
tick=
if [ -n "${BASH_VERSION:-}" ]; then
  tick=$(mktemp -u /tmp/guest-agent.XXXXXX)
  if mkfifo -m 0600 "$tick" 2>/dev/null && exec 3<>"$tick"; then
    rm -f "$tick"
  else
    tick=
  fi
fi
idle=0
pause() { # 50 ms, or 250 ms after 20 rounds without a command
  local t=0.05 us=50000
  if [ "$idle" -ge 20 ]; then t=0.25 us=250000; else idle=$((idle + 1)); fi
  if [ -n "$tick" ]; then
    read -r -t "$t" -u 3 _ || :
  else
    usleep "$us"
  fi
}
echo "$(uname -r)" >"$run/ready.tmp" && mv "$run/ready.tmp" "$run/ready"
echo "guest-agent: ready ($run)" >/dev/console
while :; do
  for f in "$cmd"/*.sh; do
    [ -e "$f" ] || continue
    id=${f%.sh}
    mv "$f" "$id.run" 2>/dev/null || continue
    idle=0
    (
      exec 3>&-
      cd /
      /usr/bin/bash "$id.run" >"$id.out" 2>&1 </dev/null
      echo $? >"$id.rc.tmp" && mv "$id.rc.tmp" "$id.rc"
    ) &
  done
  pause
done
