#!/usr/bin/env bash
# Runs slogate on a laptop with a real router in front of real backends:
#
#   traffic ──HTTP──▶ Caddy ──▶ backends (shop.acme, api.acme, portal.globex)
#                       │ /metrics (caddy_http_request_duration_seconds)
#   vmagent ──scrape────┘──remote write──▶ slogate ──▶ VictoriaMetrics
#
# slogate runs with scripts/demo/slogate.yml (two customers, each with an
# SLO and an SLA) and an API token. First the past: scripts/demo/history
# writes a month of Caddy's counters into VictoriaMetrics (timestamps over
# the last 31 days, through /api/v1/import), slogate starts with -backfill
# and replays it, and an outage of that month is declared as maintenance
# after the fact. Then the present: the traffic generator
# (scripts/demo/traffic) plays a day with an incident, a slow evening and a
# planned maintenance window it announces through slogate's API. Real
# requests are counted at real time, so the day is compressed into the
# schedule, not into timestamps: one day per DEMO_CYCLE (default 10m) of
# wall time.
#
# Everything binds 127.0.0.1; data and logs go to .tmp/demo (git-ignored);
# each run starts afresh. It stays in the foreground; Ctrl-C stops
# everything it started, newest first, each in its own process group, and
# exits 0 (SIGTERM: 143).
#
# Run it with `make demo` (which installs the binaries into .bin and builds
# ./slogate). Override ports, paths or the pace through the environment:
#   DEMO_SLOGATE_PORT=28490 DEMO_CYCLE=5m make demo
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BIN=${SLOGATE_BIN_DIR:-$ROOT/.bin}
DATA=${DEMO_DATA:-$ROOT/.tmp/demo}
SLOGATE=${DEMO_SLOGATE:-$ROOT/slogate}
VM_PORT=${DEMO_VM_PORT:-18428}
SLOGATE_PORT=${DEMO_SLOGATE_PORT:-18490}
VMAGENT_PORT=${DEMO_VMAGENT_PORT:-18429}
export DEMO_CADDY_PORT=${DEMO_CADDY_PORT:-18480}
export DEMO_CADDY_ADMIN_PORT=${DEMO_CADDY_ADMIN_PORT:-18419}
export DEMO_SHOP_PORT=${DEMO_SHOP_PORT:-18501}
export DEMO_API_PORT=${DEMO_API_PORT:-18502}
export DEMO_PORTAL_PORT=${DEMO_PORTAL_PORT:-18503}
SCRAPE_INTERVAL=${DEMO_SCRAPE_INTERVAL:-5s}
EVAL_INTERVAL=${DEMO_EVAL_INTERVAL:-5s}
CYCLE=${DEMO_CYCLE:-10m}
CYCLES=${DEMO_CYCLES:-6}

# Each background job gets its own process group: Ctrl-C reaches this
# script only, which stops the jobs in order, and a job's children go with it.
set -m

# note records what the script does in $DATA/logs/demo.log once that exists
# (the terminal shows the story, not the housekeeping).
note() {
  if [ -d "$DATA/logs" ]; then echo "$(date +%T) $*" >>"$DATA/logs/demo.log"; fi
}

pids=()
names=()
cleaned=0
# stop_all stops what this script started, newest first (the traffic, then
# vmagent flushing to slogate, ..., VictoriaMetrics last): SIGTERM to the
# job's process group, SIGKILL after 30s.
stop_all() {
  [ "$cleaned" = 1 ] && return
  cleaned=1
  local i n
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -0 "${pids[i]}" 2>/dev/null || continue
    note "stopping ${names[i]} (pid ${pids[i]})"
    kill -TERM -- "-${pids[i]}" 2>/dev/null || true
    for ((n = 0; n < 300; n++)); do
      kill -0 "${pids[i]}" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "${pids[i]}" 2>/dev/null; then
      echo "demo: ${names[i]} did not stop within 30s; killing it" >&2
      kill -KILL -- "-${pids[i]}" 2>/dev/null || true
    fi
    wait "${pids[i]}" 2>/dev/null || true
  done
}
# goodbye is Ctrl-C's way out: everything stopped, one line, status 0 (so
# that make, which waits for the script, reports no error).
goodbye() {
  trap '' INT TERM
  stop_all
  echo "demo: stopped; data and logs are in $DATA. Bye."
  exit 0
}
trap goodbye INT
trap 'trap "" INT TERM; stop_all; exit 143' TERM
trap stop_all EXIT

die() { echo "demo: $*" >&2; exit 1; }

# port_user names the process listening on a port, "caddy (pid 4242)",
# when ss can tell (a process of another user shows no name).
port_user() {
  command -v ss >/dev/null || return 0
  ss -Hltnp "sport = :$1" 2>/dev/null |
    sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/\1 (pid \2)/p' | head -n 1
}

# check_ports refuses to go on when a port of the demo is taken, naming
# the port, its DEMO_*_PORT variable and, if possible, what listens there.
check_ports() {
  local spec var port user
  for spec in VM:$VM_PORT SLOGATE:$SLOGATE_PORT VMAGENT:$VMAGENT_PORT CADDY:$DEMO_CADDY_PORT \
    CADDY_ADMIN:$DEMO_CADDY_ADMIN_PORT SHOP:$DEMO_SHOP_PORT API:$DEMO_API_PORT PORTAL:$DEMO_PORTAL_PORT; do
    var=DEMO_${spec%%:*}_PORT port=${spec#*:}
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      user=$(port_user "$port")
      die "cannot use port $port ($var): ${user:-something} already listens there; stop it or set $var=<free port>"
    fi
  done
}

# `make demo` checks the ports before it installs anything.
if [ "${1:-}" = --check-ports ]; then
  check_ports
  exit 0
fi

for b in "$BIN/victoria-metrics" "$BIN/vmagent" "$BIN/caddy"; do
  [ -x "$b" ] || die "cannot find $b: run make demo (its deps step installs it)"
done
command -v curl >/dev/null || die "cannot find curl"
command -v go >/dev/null || die "cannot find go"
check_ports

# Every run tells the story from its start: a month of history, then the
# live days. The previous run's data goes (the API token stays).
if [ -e "$DATA/victoria-metrics" ] || [ -e "$DATA/slogate" ]; then
  echo "demo: starting afresh: removing the previous run's data in $DATA"
  rm -rf "$DATA/victoria-metrics" "$DATA/slogate" "$DATA/vmagent-queue" "$DATA/caddy" "$DATA/logs" "$DATA/story.json"
fi
mkdir -p "$DATA/logs" "$DATA/bin"

# The demo's own programs, and slogate unless make built it.
echo "demo: building the demo backend, history writer and traffic generator"
go build -o "$DATA/bin/backend" ./scripts/demo/backend
go build -o "$DATA/bin/history" ./scripts/demo/history
go build -o "$DATA/bin/traffic" ./scripts/demo/traffic
if [ ! -x "$SLOGATE" ]; then
  echo "demo: building slogate"
  SLOGATE=$DATA/bin/slogate
  go build -o "$SLOGATE" ./cmd/slogate
fi

# The bearer token of slogate's mutating API (the page's maintenance form,
# and the traffic generator announcing maintenance). Kept across runs.
TOKEN_FILE=$DATA/api-token
if [ ! -s "$TOKEN_FILE" ]; then
  (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TOKEN_FILE")
fi

# start NAME CMD... starts a background job logging to $DATA/logs/NAME.log.
start() {
  local name=$1
  shift
  "$@" >"$DATA/logs/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
}

# step NAME CMD... runs a step of the story in the background, its output
# on the terminal, and waits for it (so that Ctrl-C is heard meanwhile).
step() {
  local name=$1 status=0
  shift
  "$@" &
  pids+=($!)
  names+=("$name")
  wait "$!" || status=$?
  [ "$status" = 0 ] || die "$name failed (status $status)"
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

# The past month of Caddy's counters, with timestamps, as if vmagent had
# scraped them all along; slogate's -backfill replays it before it listens,
# so the budgets start where a real month would leave them.
step history "$DATA/bin/history" write \
  -vm="http://127.0.0.1:$VM_PORT" \
  -instance="127.0.0.1:$DEMO_CADDY_ADMIN_PORT" \
  -sites=shop.acme.localhost,api.acme.localhost,portal.globex.localhost \
  -story="$DATA/story.json"

start slogate "$SLOGATE" \
  -httpListenAddr="127.0.0.1:$SLOGATE_PORT" \
  -upstream.url="http://127.0.0.1:$VM_PORT" \
  -config="$ROOT/scripts/demo/slogate.yml" \
  -stateDir="$DATA/slogate" \
  -api.tokenFile="$TOKEN_FILE" \
  -eval.interval="$EVAL_INTERVAL" \
  -backfill
wait_ok slogate "http://127.0.0.1:$SLOGATE_PORT/health"

# The API's outage of yesterday was agreed maintenance: declared after the
# fact through slogate's API, which recalculates the budget at once.
step declare "$DATA/bin/history" declare \
  -slogate="http://127.0.0.1:$SLOGATE_PORT" \
  -tokenFile="$TOKEN_FILE" \
  -story="$DATA/story.json"

for site in shop:$DEMO_SHOP_PORT api:$DEMO_API_PORT portal:$DEMO_PORTAL_PORT; do
  start "backend-${site%%:*}" "$DATA/bin/backend" -name="${site%%:*}" -httpListenAddr="127.0.0.1:${site#*:}"
  wait_ok "backend-${site%%:*}" "http://127.0.0.1:${site#*:}/-/control"
done

# Caddy keeps its state under XDG_* (not $HOME) and reads the ports from
# the DEMO_* variables exported above.
XDG_DATA_HOME=$DATA/caddy XDG_CONFIG_HOME=$DATA/caddy \
  start caddy "$BIN/caddy" run --config "$ROOT/scripts/demo/Caddyfile" --adapter caddyfile
wait_ok caddy "http://127.0.0.1:$DEMO_CADDY_ADMIN_PORT/metrics"

cat >"$DATA/scrape.yml" <<YAML
global:
  scrape_interval: $SCRAPE_INTERVAL
scrape_configs:
- job_name: caddy
  static_configs:
  - targets: ["127.0.0.1:$DEMO_CADDY_ADMIN_PORT"]
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
  vmui                http://127.0.0.1:$VM_PORT/vmui/
  vmagent targets     http://127.0.0.1:$VMAGENT_PORT/targets
  Caddy (the router)  http://127.0.0.1:$DEMO_CADDY_PORT/ with Host shop.acme.localhost, api.acme.localhost
                      or portal.globex.localhost (e.g. http://shop.acme.localhost:$DEMO_CADDY_PORT/ in a browser)
  API token           $TOKEN_FILE (for the page's maintenance form)

PromQL to try in vmui:
  slo_error_budget_remaining_ratio{kind="sla"}
      the contractual error budget left per route and customer (1 = untouched, below 0 = SLA breached)
  slo_burn_rate{window="5m"} > 1
      routes spending their budget faster than it accrues right now
  slo_error_budget_exhaustion_seconds{kind="sla"} / 60
      minutes until the SLA is breached if the last 5 minutes go on

The story so far (above): a month of history, which left shop.acme a few percent of its SLA
budget; api.acme's outage of yesterday declared as maintenance after the fact.
Now a day every $CYCLE ($CYCLES days), live through Caddy: early on, portal.globex's maintenance is
announced (a planned window); at 10-40% of the day shop.acme answers half its requests with 500,
and before it is over its row on the page says "SLA budget gone in" about half an hour (the
fourth day's incident uses the budget up); at 50-60% api.acme is slow; at 75-90% portal.globex is down inside
its announced window, and slogate leaves those minutes out of its budget. The traffic generator
prints each event below.

Press Ctrl-C to stop everything.
EOF

# The traffic generator prints the day's events to this terminal.
"$DATA/bin/traffic" \
  -target="http://127.0.0.1:$DEMO_CADDY_PORT" \
  -sites="shop.acme.localhost=http://127.0.0.1:$DEMO_SHOP_PORT,api.acme.localhost=http://127.0.0.1:$DEMO_API_PORT,portal.globex.localhost=http://127.0.0.1:$DEMO_PORTAL_PORT" \
  -slogate="http://127.0.0.1:$SLOGATE_PORT" \
  -tokenFile="$TOKEN_FILE" \
  -cycle="$CYCLE" -cycles="$CYCLES" 2>"$DATA/logs/traffic.log" &
pids+=($!)
names+=(traffic)

# Stay in the foreground until a signal arrives or a component dies. The
# traffic generator stopping after its days is normal; the rest stays up.
while :; do
  done_pid=
  set +e
  wait -n -p done_pid
  status=$?
  set -e
  [ -n "$done_pid" ] || die "no component left to wait for"
  for i in "${!pids[@]}"; do
    [ "${pids[i]}" = "$done_pid" ] && break
  done
  if [ "${names[i]}" = traffic ] && [ "$status" = 0 ]; then
    echo "demo: the traffic generator has played its $CYCLES days; everything else keeps running"
    continue
  fi
  echo "demo: ${names[i]} exited unexpectedly (status $status); log: $DATA/logs/${names[i]}.log" >&2
  tail -n 20 "$DATA/logs/${names[i]}.log" >&2 || true
  exit 1
done
