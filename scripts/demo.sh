#!/usr/bin/env bash
# Runs slogate on a laptop: VictoriaMetrics, slogate in front of it, a sample
# ingress-nginx target, and vmagent scraping the target, slogate's and
# VictoriaMetrics' own /metrics and remote-writing through slogate.
# Everything binds 127.0.0.1; data and logs go to .tmp/demo (git-ignored).
# It stays in the foreground; Ctrl-C (or SIGTERM) stops everything it started.
#
# Run it with `make demo` (which builds ./slogate and .bin/sampletarget first).
# Override ports or paths through the environment, e.g.
#   DEMO_SLOGATE_PORT=28490 make demo
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${SLOGATE_BIN_DIR:-$PWD/.bin}
SLOGATE=${DEMO_SLOGATE:-$PWD/slogate}
SAMPLETARGET=${DEMO_SAMPLETARGET:-$BIN/sampletarget}
DATA=${DEMO_DATA:-$PWD/.tmp/demo}
VM_PORT=${DEMO_VM_PORT:-18428}
SLOGATE_PORT=${DEMO_SLOGATE_PORT:-18490}
VMAGENT_PORT=${DEMO_VMAGENT_PORT:-18429}
TARGET_PORT=${DEMO_TARGET_PORT:-18491}
SCRAPE_INTERVAL=${DEMO_SCRAPE_INTERVAL:-5s}

pids=()
names=()
cleaned=0
# stop_all stops what this script started, newest first (vmagent flushes to
# slogate, slogate to VictoriaMetrics), each with SIGTERM, then waits.
stop_all() {
  [ "$cleaned" = 1 ] && return
  cleaned=1
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    if kill -0 "${pids[i]}" 2>/dev/null; then
      echo "demo: stopping ${names[i]} (pid ${pids[i]})"
      kill -TERM "${pids[i]}" 2>/dev/null || true
      wait "${pids[i]}" 2>/dev/null || true
    fi
  done
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap stop_all EXIT

die() { echo "demo: $*" >&2; exit 1; }

for b in "$BIN/victoria-metrics" "$BIN/vmagent" "$SAMPLETARGET" "$SLOGATE"; do
  [ -x "$b" ] || die "cannot find $b: run make demo (it runs make deps and builds slogate and the sample target)"
done
command -v curl >/dev/null || die "cannot find curl"
for port in "$VM_PORT" "$SLOGATE_PORT" "$VMAGENT_PORT" "$TARGET_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "cannot use port $port: something already listens there (set DEMO_*_PORT to choose others)"
  fi
done

mkdir -p "$DATA/logs"

# start NAME CMD... starts a background process logging to $DATA/logs/NAME.log.
start() {
  local name=$1
  shift
  "$@" >"$DATA/logs/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
}

# wait_ok NAME URL polls URL until it answers 200, for at most 60s.
wait_ok() {
  local name=$1 url=$2 i
  for ((i = 0; i < 600; i++)); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    if ! kill -0 "${pids[${#pids[@]} - 1]}" 2>/dev/null; then
      tail -n 20 "$DATA/logs/$name.log" >&2 || true
      die "$name exited; log: $DATA/logs/$name.log"
    fi
    sleep 0.1
  done
  die "$name did not answer $url within 60s; log: $DATA/logs/$name.log"
}

start victoria-metrics "$BIN/victoria-metrics" \
  -httpListenAddr="127.0.0.1:$VM_PORT" \
  -storageDataPath="$DATA/victoria-metrics" \
  -retentionPeriod=1y
wait_ok victoria-metrics "http://127.0.0.1:$VM_PORT/health"

start slogate "$SLOGATE" \
  -httpListenAddr="127.0.0.1:$SLOGATE_PORT" \
  -upstream.url="http://127.0.0.1:$VM_PORT" \
  -stateDir="$DATA/slogate"
wait_ok slogate "http://127.0.0.1:$SLOGATE_PORT/health"

start sampletarget "$SAMPLETARGET" -httpListenAddr="127.0.0.1:$TARGET_PORT"
wait_ok sampletarget "http://127.0.0.1:$TARGET_PORT/metrics"

cat >"$DATA/scrape.yml" <<YAML
global:
  scrape_interval: $SCRAPE_INTERVAL
scrape_configs:
- job_name: ingress-nginx
  static_configs:
  - targets: ["127.0.0.1:$TARGET_PORT"]
- job_name: slogate
  static_configs:
  - targets: ["127.0.0.1:$SLOGATE_PORT"]
- job_name: victoria-metrics
  static_configs:
  - targets: ["127.0.0.1:$VM_PORT"]
YAML

start vmagent "$BIN/vmagent" \
  -httpListenAddr="127.0.0.1:$VMAGENT_PORT" \
  -promscrape.config="$DATA/scrape.yml" \
  -remoteWrite.url="http://127.0.0.1:$SLOGATE_PORT/api/v1/write" \
  -remoteWrite.tmpDataPath="$DATA/vmagent-queue"
wait_ok vmagent "http://127.0.0.1:$VMAGENT_PORT/ready"

cat <<EOF

slogate demo is running (data and logs in $DATA):
  slogate page        http://127.0.0.1:$SLOGATE_PORT/slogate/
  slogate API         http://127.0.0.1:$SLOGATE_PORT/slogate/api/v1/slos
  slogate /metrics    http://127.0.0.1:$SLOGATE_PORT/metrics
  vmui                http://127.0.0.1:$VM_PORT/vmui/   (try: slo_error_budget_remaining_ratio)
  vmagent targets     http://127.0.0.1:$VMAGENT_PORT/targets
  sample ingress      http://127.0.0.1:$TARGET_PORT/metrics

Press Ctrl-C to stop everything.
EOF

# Stay in the foreground until a signal arrives or a component dies.
set +e
wait -n "${pids[@]}"
set -e
for i in "${!pids[@]}"; do
  if ! kill -0 "${pids[i]}" 2>/dev/null; then
    echo "demo: ${names[i]} exited unexpectedly; log: $DATA/logs/${names[i]}.log" >&2
  fi
done
exit 1
