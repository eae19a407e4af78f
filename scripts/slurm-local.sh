#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for trying `bdlab run --executor slurm` and for CI.
#
#   scripts/slurm-local.sh start    install (when missing and root), configure and start it
#   scripts/slurm-local.sh stop     stop the daemons this script started
#   scripts/slurm-local.sh status   say whether the controller answers and the node is up
#
# Installs Debian's slurm-wlm and munge with apt-get when they are missing and we are root, and
# starts munged (as user munge), slurmctld and slurmd without systemd. No accounting daemon: bdlab
# reads job states from squeue/scontrol. Everything the daemons write (state, spool, logs, pid
# files, the config) lives in $BDLAB_SLURM_DIR (default: bdlab-slurm in $TMPDIR or the system's
# temporary directory), never in the repository.
# /etc/slurm/slurm.conf becomes a link to that config only when there is no config of another
# cluster there; otherwise export SLURM_CONF as printed.
set -euo pipefail

STATE_DIR=${BDLAB_SLURM_DIR:-${TMPDIR:-/tmp}/bdlab-slurm}
CONF=$STATE_DIR/slurm.conf
SYSTEM_CONF=/etc/slurm/slurm.conf
MARK="# written by bdlab scripts/slurm-local.sh"
NODE=$(hostname -s)
CPUS=${BDLAB_SLURM_CPUS:-2}

say() { echo "slurm-local: $*"; }
die() { echo "slurm-local: $*" >&2; exit 1; }

install_packages() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null && command -v munged >/dev/null; then
    return
  fi
  [ "$(id -u)" -eq 0 ] || die "slurm-wlm and munge are not installed, and installing them needs root: sudo apt-get install slurm-wlm munge"
  say "installing slurm-wlm and munge with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  local log status=0
  log=$(mktemp)
  # policy-rc.d keeps the packages' init scripts from starting daemons with their own config.
  local policy=/usr/sbin/policy-rc.d created_policy=
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created_policy=1; fi
  { apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends slurm-wlm munge; } >"$log" 2>&1 || status=$?
  [ -n "$created_policy" ] && rm -f "$policy"
  if [ "$status" -ne 0 ]; then tail -20 "$log" >&2; rm -f "$log"; die "apt-get failed (exit $status)"; fi
  rm -f "$log"
  return 0
}

write_config() {
  mkdir -p "$STATE_DIR"/{state,spool,log}
  local mem_mb
  mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
  cat >"$CONF" <<EOF
$MARK
ClusterName=bdlab-local
SlurmctldHost=$NODE
AuthType=auth/munge
SlurmUser=root
StateSaveLocation=$STATE_DIR/state
SlurmdSpoolDir=$STATE_DIR/spool
SlurmctldPidFile=$STATE_DIR/slurmctld.pid
SlurmdPidFile=$STATE_DIR/slurmd.pid
SlurmctldLogFile=$STATE_DIR/log/slurmctld.log
SlurmdLogFile=$STATE_DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# Start submitted jobs at once: by default Slurm may hold back batch jobs for up to 3 s after
# each scheduling pass, which dominates the cost of short test jobs.
SchedulerParameters=batch_sched_delay=0
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
# A cancelled or timed-out job gets SIGTERM, then SIGKILL this many seconds later.
KillWait=5
# Finished jobs stay visible to squeue/scontrol this long (there is no accounting to ask later).
MinJobAge=600
NodeName=$NODE CPUs=$CPUS RealMemory=$mem_mb State=UNKNOWN
# Test jobs mostly wait: up to 4 may share a CPU, so one long job does not hold back the others.
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
  mkdir -p /etc/slurm
  if [ -L "$SYSTEM_CONF" ] || [ ! -e "$SYSTEM_CONF" ]; then
    ln -sfn "$CONF" "$SYSTEM_CONF"
  elif ! grep -qF "$MARK" "$SYSTEM_CONF"; then
    say "$SYSTEM_CONF belongs to another cluster; left alone. Use this one with: export SLURM_CONF=$CONF"
  fi
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_munge() {
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then return; fi
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    if command -v mungekey >/dev/null; then mungekey --create --keyfile=/etc/munge/munge.key >/dev/null
    else dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none; fi
  fi
  chown munge:munge /etc/munge/munge.key /etc/munge && chmod 0400 /etc/munge/munge.key && chmod 0700 /etc/munge
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  runuser -u munge -- /usr/sbin/munged
  touch "$STATE_DIR/started-munge"
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return; sleep 0.1; done
  die "munged did not start (see /var/log/munge/munged.log)"
}

node_state() { SLURM_CONF=$CONF sinfo --noheader --nodes="$NODE" --format=%T 2>/dev/null | head -1; }

start() {
  install_packages
  write_config
  start_munge
  export SLURM_CONF=$CONF
  pid_alive "$STATE_DIR/slurmctld.pid" || slurmctld
  pid_alive "$STATE_DIR/slurmd.pid" || slurmd
  local state=
  for _ in $(seq 100); do
    state=$(node_state)
    case "$state" in
      idle*|mixed*|allocated*) say "single-node Slurm is up: node $NODE ($CPUS CPUs) $state; config $CONF"; return ;;
      down*|drain*) scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 0.2
  done
  die "the node did not come up (state: ${state:-unknown}); logs are in $STATE_DIR/log"
}

stop_pid() {
  local file=$1 name=$2
  pid_alive "$file" || return 0
  local pid; pid=$(cat "$file")
  kill "$pid"
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  say "$name (pid $pid) did not stop in 5 s; killed"
}

stop() {
  [ -f "$CONF" ] || { say "not configured; nothing to stop"; return; }
  stop_pid "$STATE_DIR/slurmd.pid" slurmd
  stop_pid "$STATE_DIR/slurmctld.pid" slurmctld
  # munged may serve other Slurm users on this machine; stop it only when this script started it.
  if [ -f /run/munge/munged.pid ] && [ "$(stat -c %U /run/munge/munged.pid)" = munge ] && [ -f "$STATE_DIR/started-munge" ]; then
    stop_pid /run/munge/munged.pid munged
    rm -f "$STATE_DIR/started-munge"
  fi
  say "stopped"
}

status() {
  if ! command -v sbatch >/dev/null; then say "not installed (sbatch is not on PATH)"; return 1; fi
  if [ ! -f "$CONF" ]; then say "not configured (run: scripts/slurm-local.sh start)"; return 1; fi
  if ! SLURM_CONF=$CONF scontrol ping 2>/dev/null | grep -q UP; then say "controller is down"; return 1; fi
  say "controller is up; node $NODE $(node_state)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
