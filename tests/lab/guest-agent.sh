#!/bin/sh
# The lab guest's command agent (busybox sh, started by guest-init). The host drops
# scripts into RUN/cmd/<id>.sh (over the 9p repo share); each runs in the background
# under bash, output in <id>.out, exit status in <id>.rc (written last, atomically).
# Writes RUN/ready once the guest is up. Used by tests/lab/lab.sh (lab_exec).
run=$1
cmd=$run/cmd
mkdir -p "$cmd"
echo "$(uname -r)" >"$run/ready.tmp" && mv "$run/ready.tmp" "$run/ready"
echo "guest-agent: ready ($run)" >/dev/console
while :; do
  for f in "$cmd"/*.sh; do
    [ -e "$f" ] || continue
    id=${f%.sh}
    mv "$f" "$id.run" 2>/dev/null || continue
    (
      cd /
      /usr/bin/bash "$id.run" >"$id.out" 2>&1 </dev/null
      echo $? >"$id.rc.tmp" && mv "$id.rc.tmp" "$id.rc"
    ) &
  done
  usleep 50000
done
