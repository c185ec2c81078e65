#!/usr/bin/env bash
# Throughput of GET /healthz over h2c (h2load -c50 -m10), against the limit measured in the
# same run: Debian's own h2o serving a static file of the same 15 bytes with the same number
# of threads. Two pairings: both servers without an access log, and both writing one line
# per request to a file (as production does). Prints requests/s and the ratio of each; the
# goal is a ratio of at least $GOAL.
#
# Also measures /readyz (a MariaDB ping and a Redis PING on a pool worker) when
# STALLFRONT_CONFIG or STALLFRONT_DB_* point at a running stack, e.g. after `scripts/dev up`:
#   STALLFRONT_CONFIG=var/stallfront.conf loadtest/healthz-vs-h2o.sh
#
# Needs the Debian packages nghttp2-client (h2load) and h2o. Only loopback is used; every
# run is bounded (-n requests). It never fails on speed, it prints; it fails only if an
# answer is missing or not 2xx.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${STALLFRONT_BIN:-build/dev/stallfront}
REQUESTS=${REQUESTS:-300000}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
GOAL=${GOAL:-0.70}
WORK=$(mktemp -d /tmp/stallfront-bench.XXXXXX)
chmod 777 "$WORK" # h2o started as root serves files and writes its log as nobody
PIDS=()

cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [[ -n ${KEEP:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT

[[ -x $BIN ]] || { echo "no $BIN: build first (scripts/dev up, or STALLFRONT_BIN=...)" >&2; exit 1; }
if ! command -v h2load >/dev/null || ! command -v h2o >/dev/null; then
    echo "needs h2load (nghttp2-client) and h2o (Debian package h2o)" >&2
    exit 1
fi

# free_port, wait_port, h2load_rps, start_h2o
source loadtest/lib.sh

# Requests/s of REQUESTS GETs of URL; exits if any answer was missing or not 2xx.
rps() { h2load_rps "$REQUESTS" 50 10 "$1"; }

# stallfront with its access log to LOG (a path, or off); sets PORT.
start_sf() { # NAME LOG
    local port
    port=$(free_port)
    PORT=$port
    STALLFRONT_HTTP_LISTEN=127.0.0.1:$port STALLFRONT_TLS_LISTEN='' STALLFRONT_HTTP_THREADS=$THREADS \
        STALLFRONT_HTTP_CONN_RPS=1000000 STALLFRONT_HTTP_CONN_INFLIGHT=100000 \
        STALLFRONT_LOG_ACCESS="$2" "$BIN" serve >"$WORK/$1.log" 2>&1 &
    PIDS+=($!)
}

# Alternates the two servers ROUNDS times and prints the best of each and their ratio.
compare() { # LABEL SF_PORT H2O_PORT
    local best_sf=0 best_h2o=0 a b r ratio verdict
    echo "$1"
    for r in $(seq "$ROUNDS"); do
        a=$(rps "http://127.0.0.1:$2/healthz")
        b=$(rps "http://127.0.0.1:$3/healthz")
        printf '  round %d: stallfront %8.0f req/s   h2o static %8.0f req/s\n' "$r" "$a" "$b"
        best_sf=$(awk -v x="$a" -v y="$best_sf" 'BEGIN {print (x > y ? x : y)}')
        best_h2o=$(awk -v x="$b" -v y="$best_h2o" 'BEGIN {print (x > y ? x : y)}')
    done
    ratio=$(awk -v a="$best_sf" -v b="$best_h2o" 'BEGIN {printf "%.2f", a / b}')
    verdict=$(awk -v r="$ratio" -v g="$GOAL" 'BEGIN {print (r >= g ? "meets" : "BELOW")}')
    printf '  best: stallfront %.0f req/s, h2o static %.0f req/s: ratio %s (goal >= %s: %s)\n' \
        "$best_sf" "$best_h2o" "$ratio" "$GOAL" "$verdict"
    BEST_SF=$best_sf
}

mkdir -p "$WORK/docroot"
printf '{"status":"ok"}' >"$WORK/docroot/healthz"
start_sf sf-quiet off
SF_QUIET=$PORT
start_sf sf-logged "$WORK/sf-access.log"
SF_LOGGED=$PORT
start_h2o h2o-quiet "$WORK/docroot" /dev/null "$THREADS"
H2O_QUIET=$PORT
start_h2o h2o-logged "$WORK/docroot" "$WORK/h2o-access.log" "$THREADS"
H2O_LOGGED=$PORT
for p in "$SF_QUIET" "$SF_LOGGED" "$H2O_QUIET" "$H2O_LOGGED"; do wait_port "$p"; done

echo "GET /healthz over h2c, h2load -c50 -m10 -n $REQUESTS, $THREADS server threads, $ROUNDS rounds, alternating"
compare "without access logs:" "$SF_QUIET" "$H2O_QUIET"
compare "with access logs to a file:" "$SF_LOGGED" "$H2O_LOGGED"

# The pool path, when a stack is there to answer it.
if curl -fsS -o /dev/null "http://127.0.0.1:$SF_LOGGED/readyz" 2>/dev/null; then
    r=$(rps "http://127.0.0.1:$SF_LOGGED/readyz")
    printf 'GET /readyz (MariaDB ping + Redis PING on a pool worker, logged): %.0f req/s, %.2f of /healthz\n' \
        "$r" "$(awk -v a="$r" -v b="$BEST_SF" 'BEGIN {print a / b}')"
else
    echo "GET /readyz skipped: no MariaDB/Redis reachable with this configuration"
fi
