#!/bin/sh
# The lab guest's command agent (started by guest-init or the system guest's service
# with /bin/sh; it runs itself under bash). The host drops scripts into
# RUN/cmd/<id>.sh (over the 9p repo share); the agent runs each one once, in the
# background, output in <id>.out, then writes its exit status and a newline to
# <id>.rc. The host removes the three files. Writes RUN/ready once the guest is up.
# Used by tests/lab/lab.sh (lab_exec). Each lab test makes hundreds of these calls
# on a TCG guest, so the agent spawns no program of its own per command or per round:
#  - a script is sourced in a forked subshell rather than run by a new bash: exec'ing
#    a program from the 9p /usr costs 50-110 ms of a TCG guest, a fork about 5 ms
#    (and so no mv: the agent remembers which scripts it started, and .rc is written
#    with the shell's own redirection, its one line telling the host it is whole);
#  - the poll between rounds is bash's read -t on a FIFO that nobody writes, and
#    slows from 50 ms to 100 ms after a second without a new command: a round then
#    costs one directory listing over 9p.
if [ -z "${BASH_VERSION:-}" ]; then
  exec /usr/bin/bash "$0" "$@"
fi
agent_run=$1
agent_cmd=$agent_run/cmd
mkdir -p "$agent_cmd"
agent_tick=$(mktemp -u /tmp/guest-agent.XXXXXX)
mkfifo -m 0600 "$agent_tick" && exec 3<>"$agent_tick" && rm -f "$agent_tick" || exit 1
agent_idle=0
declare -A agent_started=() agent_listed=()
agent_pause() { # 50 ms, or 100 ms after 20 rounds without a command
  local t=0.05
  if [ "$agent_idle" -ge 20 ]; then t=0.1; else agent_idle=$((agent_idle + 1)); fi
  read -r -t "$t" -u 3 _ || :
}
# agent_start ID: source ID.sh in a subshell (the agent's own names unset) with its
# output in ID.out, then write its exit status to ID.rc.
agent_start() {
  (
    agent_id=$1
    set --
    exec 3>&-
    cd /
    unset agent_run agent_cmd agent_tick agent_idle agent_f agent_started agent_listed
    unset -f agent_pause agent_start
    # shellcheck disable=SC1090
    ( . "$agent_id.sh" ) >"$agent_id.out" 2>&1 </dev/null
    echo "$?" >"$agent_id.rc"
  ) &
}
echo "$(uname -r)" >"$agent_run/ready.tmp" && mv "$agent_run/ready.tmp" "$agent_run/ready"
echo "guest-agent: ready ($agent_run)" >/dev/console
while :; do
  agent_listed=()
  for agent_f in "$agent_cmd"/*.sh; do
    [ -e "$agent_f" ] || continue
    agent_listed[$agent_f]=1
    [ -z "${agent_started[$agent_f]:-}" ] || continue
    agent_started[$agent_f]=1
    agent_idle=0
    agent_start "${agent_f%.sh}"
  done
  # Forget the scripts the host has removed.
  for agent_f in "${!agent_started[@]}"; do
    [ -n "${agent_listed[$agent_f]:-}" ] || unset "agent_started[$agent_f]"
  done
  agent_pause
done
