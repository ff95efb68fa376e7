#!/usr/bin/env bash
# A one-node SLURM cluster for the tests, from Debian's slurm-wlm and munge, as root and without systemd.
#
#   tests/slurm.sh start DIR   install slurm-wlm and munge if missing (apt), write DIR/slurm.conf for this host,
#                              start munged, slurmctld and slurmd, and wait until the node is idle
#   tests/slurm.sh stop DIR    cancel the cluster's jobs, then end the three daemons by their recorded PIDs
#
# Everything lives in DIR (config, munge key and socket, state, logs, PIDs): nothing under /etc, /run or
# /var is written, and a site's own munged or SLURM keeps running. Clients reach this cluster with
# SLURM_CONF=DIR/slurm.conf. DIR and its parents must be searchable by all (munged checks its socket's path).
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1
dir=$(realpath -m "$2")
conf=$dir/slurm.conf
export SLURM_CONF=$conf

# Two free TCP ports (slurmctld's and slurmd's), held together while chosen so that they differ.
free_ports() {
  python3 -c 'import socket; s = [socket.socket() for _ in range(2)]; [x.bind(("127.0.0.1", 0)) for x in s]
print(*(x.getsockname()[1] for x in s))'
}

# Wait up to $1 seconds for "$2 ..." to succeed, polling every 0.2 s.
poll() {
  local seconds=$1; shift
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

node_idle() { sinfo -h -o %t | grep -qx idle; }
no_jobs() { [ -z "$(squeue -h -o %i)" ]; }
alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! kill -0 "$1" 2>/dev/null; }

# Stop daemons by their recorded PIDs: SIGTERM to all of them at once, up to 15 s to exit, then SIGKILL.
stop_daemons() {
  local name pid pids=()
  for name in "$@"; do
    [ -f "$dir/$name.pid" ] || continue
    pid=$(cat "$dir/$name.pid")
    alive "$pid" && kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  done
  for pid in "${pids[@]}"; do
    poll 15 dead "$pid" || kill -KILL "$pid" 2>/dev/null || true
  done
  for name in "$@"; do rm -f "$dir/$name.pid"; done
}

logs() {  # the daemons' last lines, for a start that failed
  local f
  for f in "$dir"/munged.out "$dir"/munged.log "$dir"/slurmctld.out "$dir"/slurmd.out; do
    [ -f "$f" ] && { echo "== $f"; tail -n 20 "$f"; }
  done
  return 0
}

start() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "a one-node SLURM here needs root (slurmd runs jobs as their user; $0 runs as uid $(id -u))" >&2
    exit 3
  fi
  local missing=""
  command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 || missing="$missing slurm-wlm"
  command -v munged >/dev/null 2>&1 || missing="$missing munge"
  if [ -n "$missing" ]; then
    echo "installing Debian's$missing" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing) >/dev/null
  fi

  mkdir -p "$dir"/ctld "$dir"/spool
  chmod 755 "$dir"
  # A key of this cluster's own (munged refuses a key that others can read).
  (umask 077 && head -c 1024 /dev/urandom >"$dir"/munge.key)
  setsid munged --foreground --key-file="$dir"/munge.key --socket="$dir"/munge.socket \
    --pid-file="$dir"/munged.pidfile --seed-file="$dir"/munged.seed --log-file="$dir"/munged.log \
    >>"$dir"/munged.out 2>&1 </dev/null &
  echo $! >"$dir"/munged.pid
  poll 10 test -S "$dir"/munge.socket || { echo "munged did not start" >&2; logs >&2; exit 1; }

  local host cpus memory ports
  read -r -a ports <<<"$(free_ports)"
  host=$(hostname -s)  # slurmd finds its node by this name
  cpus=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)  # nproc honours OMP_NUM_THREADS, which importing pyabc sets to 1
  memory=$(free -m | awk '/^Mem:/{print $2}')
  cat >"$conf" <<CONF
ClusterName=simtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=${ports[0]}
SlurmdPort=${ports[1]}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge.socket
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pidfile
SlurmdPidFile=$dir/slurmd.pidfile
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  setsid slurmctld -D -i -f "$conf" >>"$dir"/slurmctld.out 2>&1 </dev/null &
  echo $! >"$dir"/slurmctld.pid
  setsid slurmd -D -f "$conf" >>"$dir"/slurmd.out 2>&1 </dev/null &
  echo $! >"$dir"/slurmd.pid
  local deadline=$((SECONDS + 60)) daemon
  until node_idle; do
    for daemon in munged slurmctld slurmd; do
      alive "$(cat "$dir"/$daemon.pid)" || { echo "$daemon exited while starting:" >&2; logs >&2; exit 1; }
    done
    [ $SECONDS -lt $deadline ] || { echo "the node was not idle within 60 s:" >&2; sinfo -N -l >&2; logs >&2; exit 1; }
    sleep 0.2
  done
  echo "SLURM_CONF=$conf"
}

stop() {
  [ -f "$conf" ] && { scancel --partition=debug 2>/dev/null || true; poll 30 no_jobs || true; }
  stop_daemons slurmd slurmctld munged
}

case $action in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
