#!/usr/bin/env bash
# 3-member etcd cluster on 127.0.0.1 only, for the etcd performance anchor.
#
#   cluster.sh start    start members m1..m3 (client 23791-23793, peer 23801-23803, or $ETCD_PORTS)
#   cluster.sh stop     stop them by the PIDs recorded at start, remove data
#   cluster.sh pids     print the member PIDs, comma-separated
#   cluster.sh endpoints  print the client endpoints, comma-separated
#   cluster.sh leader   print the current leader's client endpoint
#
# Copied from the etcd anchor (shared/anchors/etcd/) for `pnpm bench --vs-etcd`, with one
# change: health and leadership come from etcd's own HTTP endpoints on the client port
# (/health, and etcd_server_is_leader in /metrics) over bash's /dev/tcp, so only the
# `etcd-server` package is needed (no etcdctl, no curl).
#
# Data dirs live in a fresh `mktemp -d` dir; default durability (etcd fsyncs
# its WAL on every commit). The run dir is remembered in a pointer file
# ($ETCD_ANCHOR_POINTER, default $TMPDIR/etcd-anchor.current) so that `stop`
# finds the PIDs. Processes are only ever signalled by those PIDs, and only
# after checking that /proc/PID/cmdline still points at our data dir.
#
# Env: ETCD_BIN (default etcd),
#      ETCD_PORTS (at start: client1,client2,client3,peer1,peer2,peer3; remembered in the run dir),
#      ETCD_EXTRA_ARGS (appended to every member's command line),
#      KEEP_DATA=1 (stop leaves the run dir in place, for reading logs),
#      ETCD_NICE=N (start the members under `nice -n N`; see matrix.js --nice).
set -euo pipefail

ETCD_BIN=${ETCD_BIN:-etcd}
POINTER=${ETCD_ANCHOR_POINTER:-${TMPDIR:-/tmp}/etcd-anchor.current}
HOST=127.0.0.1
NAMES=(m1 m2 m3)

die() { echo "cluster.sh: $*" >&2; exit 1; }

run_dir() { [[ -f $POINTER ]] && cat "$POINTER" || true; }

# The six ports (3 client, 3 peer): $ETCD_PORTS at start, else those the running cluster
# recorded in its run dir, else the defaults. `pnpm bench` passes free ones, so two runs (or a
# run and the test suite) never fight over fixed ports.
PORTS=${ETCD_PORTS:-}
if [[ -z $PORTS ]]; then
  _run=$(run_dir)
  if [[ -n $_run && -f $_run/ports ]]; then PORTS=$(cat "$_run/ports"); fi
fi
PORTS=${PORTS:-23791,23792,23793,23801,23802,23803}
IFS=, read -r -a _ports <<<"$PORTS"
((${#_ports[@]} == 6)) || die "ETCD_PORTS must list 6 ports (3 client, then 3 peer), got: $PORTS"
CLIENT_PORTS=("${_ports[@]:0:3}")
PEER_PORTS=("${_ports[@]:3:3}")
ENDPOINTS="http://$HOST:${CLIENT_PORTS[0]},http://$HOST:${CLIENT_PORTS[1]},http://$HOST:${CLIENT_PORTS[2]}"
INITIAL_CLUSTER="m1=http://$HOST:${PEER_PORTS[0]},m2=http://$HOST:${PEER_PORTS[1]},m3=http://$HOST:${PEER_PORTS[2]}"

# alive_ours PID RUN: PID is alive and is one of our etcd members
alive_ours() {
  local pid=$1 run=$2
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$run/" || return 1
}

port_free() { ! (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# http_get PORT PATH: the body of an HTTP/1.0 GET on 127.0.0.1:PORT (empty if it fails)
http_get() {
  (exec 3<>"/dev/tcp/$HOST/$1" && printf 'GET %s HTTP/1.0\r\n\r\n' "$2" >&3 && timeout 2 cat <&3) 2>/dev/null || true
}

# healthy: every member answers /health with {"health":"true"} (etcd checks it has a leader)
healthy() {
  local p
  for p in "${CLIENT_PORTS[@]}"; do
    http_get "$p" /health | grep -q '"health":"true"' || return 1
  done
}

cmd_start() {
  local run
  run=$(run_dir)
  if [[ -n $run && -f $run/pids ]]; then
    while read -r pid; do
      if alive_ours "$pid" "$run"; then die "already running (run dir $run); stop it first"; fi
    done <"$run/pids"
  fi
  command -v "$ETCD_BIN" >/dev/null || die "etcd not found (apt-get install -y etcd-server)"
  for p in "${CLIENT_PORTS[@]}" "${PEER_PORTS[@]}"; do
    port_free "$p" || die "port $p on $HOST is in use"
  done
  run=$(mktemp -d "${TMPDIR:-/tmp}/etcd-anchor.XXXXXX")
  echo "$run" >"$POINTER"
  echo "$PORTS" >"$run/ports"
  : >"$run/pids"
  for i in 0 1 2; do
    local n=${NAMES[$i]} cp=${CLIENT_PORTS[$i]} pp=${PEER_PORTS[$i]}
    # shellcheck disable=SC2086
    setsid ${ETCD_NICE:+nice -n "$ETCD_NICE"} "$ETCD_BIN" \
      --name "$n" \
      --data-dir "$run/$n.etcd" \
      --listen-client-urls "http://$HOST:$cp" \
      --advertise-client-urls "http://$HOST:$cp" \
      --listen-peer-urls "http://$HOST:$pp" \
      --initial-advertise-peer-urls "http://$HOST:$pp" \
      --initial-cluster "$INITIAL_CLUSTER" \
      --initial-cluster-state new \
      --initial-cluster-token etcd-anchor \
      --logger zap --log-outputs "$run/$n.log" \
      ${ETCD_EXTRA_ARGS:-} \
      </dev/null >>"$run/$n.stdout" 2>&1 &
    echo $! >>"$run/pids"
  done
  # wait until every member reports itself healthy
  local deadline=$((SECONDS + 30))
  until healthy; do
    if ((SECONDS > deadline)); then
      echo "cluster.sh: cluster not healthy after 30s; logs in $run" >&2
      cmd_stop_keep
      exit 1
    fi
    sleep 0.3
  done
  echo "etcd cluster up: endpoints $ENDPOINTS"
  echo "pids $(paste -sd, "$run/pids")  run dir $run"
}

# stop_members: stop the recorded PIDs one after another: TERM, wait up to 10s, then KILL.
# One at a time because a leader that gets TERM first hands its leadership to a peer and waits
# up to etcd's request timeout (7 s with the default election timeout) for it to take over:
# when every member got TERM at once, that peer was going away too and every stop took 7 s.
# In turn, a leader always hands over to a member that stays up, and the last member, alone,
# has nobody to hand over to and exits at once.
stop_members() {
  local run=$1 pid
  [[ -f $run/pids ]] || return 0
  while read -r pid; do
    alive_ours "$pid" "$run" || continue
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
      alive_ours "$pid" "$run" || break
      sleep 0.1
    done
    if alive_ours "$pid" "$run"; then
      echo "cluster.sh: pid $pid did not exit on TERM, sending KILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done <"$run/pids"
}

cmd_stop_keep() { stop_members "$(run_dir)"; }

cmd_stop() {
  local run
  run=$(run_dir)
  [[ -n $run ]] || { echo "no cluster recorded in $POINTER"; return 0; }
  stop_members "$run"
  if [[ ${KEEP_DATA:-0} == 1 ]]; then
    echo "stopped; run dir kept: $run"
  else
    case $run in
      "${TMPDIR:-/tmp}"/etcd-anchor.*) rm -rf -- "$run" ;;
      *) echo "cluster.sh: not removing unexpected run dir $run" >&2 ;;
    esac
    echo "stopped"
  fi
  rm -f -- "$POINTER"
}

cmd_pids() {
  local run
  run=$(run_dir)
  [[ -n $run && -f $run/pids ]] || die "no cluster running"
  paste -sd, "$run/pids"
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  pids) cmd_pids ;;
  endpoints) echo "$ENDPOINTS" ;;
  leader)
    # the member whose metrics say etcd_server_is_leader 1
    for p in "${CLIENT_PORTS[@]}"; do
      if http_get "$p" /metrics | grep -q '^etcd_server_is_leader 1'; then echo "http://$HOST:$p"; fi
    done ;;
  *) echo "usage: $0 start|stop|pids|endpoints|leader" >&2; exit 2 ;;
esac
