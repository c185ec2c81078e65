#!/usr/bin/env bash
# The supervision platforms' feed at volume (issue 10 item 7): a scratch database with
# 1,000,000 sale lines in the change log (30 days of one market, ~100k of them on the last
# day, the rest spread over the 29 days before), a real `stallfront serve` on it, a platform
# client made by the market's operator through the API, then:
#
#   1. `stallfront platform pull --limit 1000` of the last day's ~100k lines (from the log
#      position where that day starts, as a platform pulling once a day would), with its
#      lines/s and the time it took;
#   2. GET .../online-sales for that day and for the 30 days, and GET .../reconcile for the
#      day, each signed with openssl exactly as docs/platform-feed.md shows, timed by curl;
#   3. the limit measured in the same run: MariaDB's own time (the mariadb client's) for a
#      plain `SELECT COUNT(*)` over the same rows (the day's, the 30 days'), and for reading
#      the KPI columns of those rows; each request's time is printed as a ratio to it.
#
# It never fails on speed, it prints; it fails only when a step fails (a non-2xx answer, a
# pull that does not finish, a count that is not what was filled). It is not part of
# `scripts/dev test`. Run it against a MariaDB and Redis you may use (the scratch database
# `sf_feedbench_<pid>` is created there and dropped at the end; KEEP=1 keeps it and the files):
#
#   scripts/dev up && STALLFRONT_CONFIG=var/stallfront.conf loadtest/feed-bench.sh
#   # or with STALLFRONT_DB_* and STALLFRONT_REDIS_* in the environment
#
# Knobs: LINES (1000000), DAY_LINES (100000), DAYS (30), STALLFRONT_BIN (build/dev/stallfront).
# Needs the mariadb client, curl, openssl, base64; MariaDB's Sequence engine (seq_1_to_N,
# built into MariaDB) generates the rows set-based, in a few INSERT ... SELECT statements.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
# Every step that fails says which (set -e alone exits without a word).
trap 'rc=$?; echo "feed-bench: line $LINENO failed (exit $rc): $BASH_COMMAND" >&2' ERR

BIN=${STALLFRONT_BIN:-build/dev/stallfront}
LINES=${LINES:-1000000}
DAY_LINES=${DAY_LINES:-100000}
DAYS=${DAYS:-30}
WORK=$(mktemp -d /tmp/stallfront-feedbench.XXXXXX)
DB=sf_feedbench_$$
PIDS=()

[[ -x $BIN ]] || { echo "no $BIN: build first (scripts/dev up, or STALLFRONT_BIN=...)" >&2; exit 1; }
for tool in mariadb curl openssl base64; do
    command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done
(( DAY_LINES < LINES )) || { echo "DAY_LINES must be below LINES" >&2; exit 1; }

# The database settings as the binary resolves them (config file, then STALLFRONT_*).
setting() { "$BIN" config | awk -v k="$1" '$1 == k {print $3}'; }
DB_HOST=$(setting db.host)
DB_PORT=$(setting db.port)
DB_USER=$(setting db.user)
DB_PASSWORD=${STALLFRONT_DB_PASSWORD:-$(awk -F' *= *' '$1 == "db.password" {print $2}' "${STALLFRONT_CONFIG:-/dev/null}")}
export MYSQL_PWD=$DB_PASSWORD
sql() { mariadb --no-defaults -h"$DB_HOST" -P"$DB_PORT" -u"$DB_USER" -N -B "$DB" "$@"; }

cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [[ -z ${KEEP:-} ]]; then
        mariadb --no-defaults -h"$DB_HOST" -P"$DB_PORT" -u"$DB_USER" -e "DROP DATABASE IF EXISTS $DB" || true
        rm -rf "$WORK"
    else
        echo "kept: database $DB, files in $WORK"
    fi
}
trap cleanup EXIT

source loadtest/lib.sh # free_port, wait_port

ms() { date +%s%3N; }

# ---- the scratch database: schema, the demo market, then the sale lines
mariadb --no-defaults -h"$DB_HOST" -P"$DB_PORT" -u"$DB_USER" \
    -e "CREATE DATABASE $DB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
export STALLFRONT_DB_NAME=$DB
"$BIN" migrate >"$WORK/migrate.log" 2>&1 || { cat "$WORK/migrate.log" >&2; exit 1; }
"$BIN" seed >"$WORK/seed.log" 2>&1 || { cat "$WORK/seed.log" >&2; exit 1; }
MARKET=$(sql -e "SELECT MIN(id) FROM markets")
# The last day is yesterday (+08:00); the history is the DAYS-1 days before it.
DAY=$(TZ=Asia/Shanghai date -d yesterday +%F)
FIRST=$(TZ=Asia/Shanghai date -d "$DAY - $((DAYS - 1)) days" +%F)
HIST=$((LINES - DAY_LINES))

# One version per line (its latest: the versions before it would only lengthen the fill).
# Order o of the history is on day (o mod (DAYS-1)); the day's lines come after it in the log.
# The mix: 7 in 10 weighed (250..1125 g, a third picked a little lighter), 3 in 10 counted;
# ~2.5 lines an order, each order at one of 40 stalls; 1 line in 50 void (rejected); 9
# orders in 10 delivered (ready 10..38 min after payment, delivered 40..85 min after);
# 20,000 consumers; paid between 07:00 and 21:00.
fill() { # FROM_SEQ COUNT DAY_EXPR POS_BASE
    sql <<SQL
INSERT INTO sale_line_versions (pos, event_id, market_id, paid_date, version, op, order_id, order_no,
    vendor_order_id, stall_id, stall_no, vendor_id, product_id, category, commodity_code, name, origin,
    trace_code, pricing_mode, price_fen, per_g, unit, qty, qty_actual, amount_fen, refunded_fen,
    consumer_ref, paid_at, ready_at, delivered_at, changed_at)
SELECT $4 + s.n, 100000000 + s.n, $MARKET, s.d, IF(s.n % 50 = 0, 2, IF(s.o % 10 = 9, 3, 4)),
    IF(s.n % 50 = 0, 'void', 'upsert'), 100000000 + s.o, CONCAT('FB', 100000000 + s.o),
    100000000 + s.o, 1 + s.o % 40, CONCAT('FB-', LPAD(s.o % 40, 2, '0')), 1 + s.o % 40, 1 + s.n % 300,
    ELT(1 + s.n % 4, 'veg-leafy', 'meat', 'eggs', 'fruit'), CONCAT('A0101', LPAD(s.n % 300, 5, '0')),
    CONCAT('商品', s.n % 300), '410122', NULL,
    IF(s.w, 'weight', 'count'), 300 + s.n % 1500, IF(s.w, 500, NULL), IF(s.w, NULL, '个'),
    s.q, s.qa, s.amt, IF(s.n % 50 = 0, s.amt, s.amt - s.amta),
    LEFT(MD5(CONCAT('c', s.o * 7 % 20000)), 32), s.paid,
    IF(s.n % 50 = 0, NULL, s.paid + INTERVAL (600 + s.n % 1700) SECOND),
    IF(s.n % 50 = 0 OR s.o % 10 = 9, NULL, s.paid + INTERVAL (2400 + s.o % 2700) SECOND),
    s.paid + INTERVAL 2 HOUR
FROM (SELECT x.n, x.o, x.d, x.w, x.q, x.qa, x.amt,
             ROUND((300 + x.n % 1500) * IF(x.w, LEAST(x.qa, x.q) / 500, x.q)) AS amta,
             TIMESTAMP(x.d, '07:00:00') - INTERVAL 8 HOUR + INTERVAL (x.o * 7919 % 50400) SECOND AS paid
      FROM (SELECT seq AS n, FLOOR(seq / 2.5) AS o, $3 AS d, seq % 10 < 7 AS w,
                   IF(seq % 10 < 7, 250 + (seq % 8) * 125, 1 + seq % 6) AS q,
                   IF(seq % 10 < 7, 250 + (seq % 8) * 125 - IF(seq % 3 = 1, 5 + seq % 20, 0), 1 + seq % 6) AS qa,
                   ROUND((300 + seq % 1500) * IF(seq % 10 < 7, (250 + (seq % 8) * 125) / 500, 1 + seq % 6)) AS amt
            FROM seq_${1}_to_$(($1 + $2 - 1))) x) s;
SQL
}

echo "filling $LINES sale lines ($DAY_LINES on $DAY, the rest over $FIRST..$(TZ=Asia/Shanghai date -d "$DAY - 1 day" +%F)) into $DB ..."
t0=$(ms)
BASE=$(sql -e "SELECT last_pos FROM sale_log_head WHERE id = 1")
fill 1 "$HIST" "DATE('$FIRST') + INTERVAL (FLOOR(seq / 2.5) % $((DAYS - 1))) DAY" "$BASE"
DAY_POS=$((BASE + HIST)) # the last position before the day's lines
fill $((HIST + 1)) "$DAY_LINES" "DATE('$DAY')" "$BASE"
sql -e "INSERT INTO sale_lines (event_id, market_id, paid_date, version, op, order_id, order_no, vendor_order_id,
            stall_id, stall_no, vendor_id, product_id, category, commodity_code, name, origin, trace_code,
            pricing_mode, price_fen, per_g, unit, qty, qty_actual, amount_fen, refunded_fen, consumer_ref,
            paid_at, ready_at, delivered_at, changed_at)
        SELECT event_id, market_id, paid_date, version, op, order_id, order_no, vendor_order_id, stall_id,
            stall_no, vendor_id, product_id, category, commodity_code, name, origin, trace_code, pricing_mode,
            price_fen, per_g, unit, qty, qty_actual, amount_fen, refunded_fen, consumer_ref, paid_at, ready_at,
            delivered_at, changed_at
        FROM sale_line_versions WHERE event_id > 100000000;
        UPDATE sale_log_head SET last_pos = (SELECT MAX(pos) FROM sale_line_versions) WHERE id = 1;
        ANALYZE TABLE sale_lines, sale_line_versions;" >/dev/null
got=$(sql -e "SELECT COUNT(*) FROM sale_lines WHERE market_id = $MARKET AND paid_date = '$DAY' AND event_id > 100000000")
[[ $got == "$DAY_LINES" ]] || { echo "the day has $got lines, not $DAY_LINES" >&2; exit 1; }
echo "  filled in $(( ($(ms) - t0) / 1000 )) s"

# ---- the server, the operator, the platform client
PORT=$(free_port)
BASE_URL=http://127.0.0.1:$PORT
STALLFRONT_HTTP_LISTEN=127.0.0.1:$PORT STALLFRONT_TLS_LISTEN='' STALLFRONT_PLATFORM_RATE_PER_MIN=100000 \
    STALLFRONT_HTTP_DEADLINE_MS=300000 "$BIN" serve >"$WORK/serve.log" 2>&1 &
PIDS+=($!)
wait_port "$PORT"

umask 077
printf 'feed-bench-operator-pass\n' >"$WORK/op.pass"
"$BIN" operator add --market-id "$MARKET" --username "feedbench$$" --password-file "$WORK/op.pass" >/dev/null
TOKEN=$(curl -fsS -H 'Content-Type: application/json' \
    -d "{\"username\":\"feedbench$$\",\"password\":\"feed-bench-operator-pass\"}" "$BASE_URL/v1/auth/login" |
    sed -n 's/.*"token": *"\([^"]*\)".*/\1/p')
[[ -n $TOKEN ]] || { echo "the operator feedbench$$ could not sign in: $BASE_URL/v1/auth/login" >&2; exit 1; }
CLIENT=$(curl -fsS -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" \
    -d "{\"name\":\"feed-bench\",\"scope\":\"district\",\"market_ids\":[$MARKET]}" "$BASE_URL/v1/admin/platform-clients")
APP_KEY=$(sed -n 's/.*"app_key": *"\([^"]*\)".*/\1/p' <<<"$CLIENT")
sed -n 's/.*"secret": *"\([^"]*\)".*/\1/p' <<<"$CLIENT" >"$WORK/feed.secret"
[[ -n $APP_KEY && -s $WORK/feed.secret ]] || { echo "no platform client: $CLIENT" >&2; exit 1; }
SECRET=$(cat "$WORK/feed.secret")

# A signed GET as docs/platform-feed.md shows it (the query given already sorted, as sent);
# the answer into $WORK/answer.json, curl's total time in seconds on stdout.
signed_get() { # PATH QUERY
    local ts nonce sig empty
    ts=$(date +%s)
    nonce=$(openssl rand -hex 16)
    empty=$(printf '' | openssl dgst -sha256 -r | cut -d' ' -f1)
    sig=$(printf '%s\n%s\n%s\n%s\n%s\n%s' GET "$1" "$2" "$empty" "$ts" "$nonce" |
        openssl dgst -sha256 -hmac "$SECRET" -binary | openssl base64 -A)
    # -w ends with a newline: `read` fails on a last line without one (set -e then exits)
    curl -sS --http2-prior-knowledge -o "$WORK/answer.json" -w '%{http_code} %{time_total}\n' \
        -H "X-App-Key: $APP_KEY" -H "X-Timestamp: $ts" -H "X-Nonce: $nonce" -H "X-Signature: $sig" \
        "$BASE_URL$1${2:+?$2}" >"$WORK/status"
    read -r code secs <"$WORK/status" || { echo "GET $1?$2: curl wrote no status line" >&2; exit 1; }
    [[ $code == 200 ]] || { echo "GET $1?$2: $code $(cat "$WORK/answer.json")" >&2; exit 1; }
    echo "$secs"
}

# ---- the cursor where the day starts: a real cursor of this feed with its position swapped
# for DAY_POS. The cursor is opaque to platforms; the benchmark peeks, and falls back to
# pulling the whole log when the codec is not base64url of "kind:key:id" with the position in it.
signed_get "/v1/platform/markets/$MARKET/transactions" "cursor=&limit=1" >/dev/null
first=$(sed -n 's/.*"event_id": *\([0-9]*\).*/\1/p' "$WORK/answer.json" | head -1)
resume=$(sed -n 's/.*"resume_cursor": *"\([^"]*\)".*/\1/p' "$WORK/answer.json")
pos=$(sql -e "SELECT MIN(pos) FROM sale_line_versions WHERE market_id = $MARKET AND pos IS NOT NULL")
b64=$(tr '_-' '/+' <<<"$resume")
while (( ${#b64} % 4 )); do b64+="="; done
plain=$(base64 -d <<<"$b64" 2>/dev/null || true)
SINCE=
if [[ -n $first && $plain =~ ^([A-Za-z]):([0-9]+):([0-9]+)$ ]] && [[ ${BASH_REMATCH[2]} == "$pos" || ${BASH_REMATCH[3]} == "$pos" ]]; then
    k=${BASH_REMATCH[2]}; i=${BASH_REMATCH[3]}
    [[ $k == "$pos" ]] && k=$DAY_POS
    [[ $i == "$pos" ]] && i=$DAY_POS
    SINCE=$(printf '%s:%s:%s' "${BASH_REMATCH[1]}" "$k" "$i" | base64 -w0 | tr '/+' '_-' | tr -d '=')
else
    echo "  (the feed's cursor is not one the benchmark can position: pulling the whole log)"
fi

# ---- 1. the pull
echo "pulling market $MARKET's $DAY with stallfront platform pull --limit 1000 ..."
t0=$(ms)
"$BIN" platform pull --url "$BASE_URL" --app-key "$APP_KEY" --secret-file "$WORK/feed.secret" \
    --market "$MARKET" --limit 1000 --out "$WORK/day.jsonl" ${SINCE:+--since "$SINCE"} 2>"$WORK/pull.log" ||
    { cat "$WORK/pull.log" >&2; exit 1; }
pull_ms=$(( $(ms) - t0 ))
pulled=$(wc -l <"$WORK/day.jsonl")
grep -c "\"paid_at\": *\"$DAY\|\"paid_at\":\"$DAY" "$WORK/day.jsonl" >"$WORK/day.count" || true
printf '  %d lines (%d of them paid on %s) in %.2f s: %.0f lines/s (the client says: %s)\n' "$pulled" \
    "$(cat "$WORK/day.count")" "$DAY" "$(awk -v m="$pull_ms" 'BEGIN {print m / 1000}')" \
    "$(awk -v n="$pulled" -v m="$pull_ms" 'BEGIN {print n * 1000 / (m > 0 ? m : 1)}')" \
    "$(tail -1 "$WORK/pull.log")"

# ---- 2 and 3. the statistics against MariaDB's own time over the same rows
# MariaDB's time for a statement, as its client reports it ("(0.123 sec)"), best of 3.
db_secs() { # SQL
    local best=
    for _ in 1 2 3; do
        t=$(mariadb --no-defaults -h"$DB_HOST" -P"$DB_PORT" -u"$DB_USER" -vvv "$DB" -e "$1" 2>&1 |
            sed -n 's/.*(\([0-9.]*\) sec).*/\1/p' | tail -1)
        best=$(awk -v a="$t" -v b="$best" 'BEGIN {print (b == "" || a < b) ? a : b}')
    done
    echo "$best"
}
req_secs() { # PATH QUERY: best of 3
    local best= t
    for _ in 1 2 3; do
        t=$(signed_get "$1" "$2")
        best=$(awk -v a="$t" -v b="$best" 'BEGIN {print (b == "" || a < b) ? a : b}')
    done
    echo "$best"
}
row() { # LABEL REQUEST_S LIMIT_S LIMIT_LABEL
    printf '  %-34s %8.3f s   %-44s %8.3f s   ratio %6.1f\n' "$1" "$2" "$4" "$3" \
        "$(awk -v a="$2" -v b="$3" 'BEGIN {print (b > 0 ? a / b : 0)}')"
}
COLS="op, order_no, stall_no, consumer_ref, pricing_mode, qty, qty_actual, amount_fen, refunded_fen, paid_at, ready_at, delivered_at"
W_DAY="market_id = $MARKET AND paid_date = '$DAY'"
W_30="market_id = $MARKET AND paid_date BETWEEN '$FIRST' AND '$DAY'"
count_day=$(db_secs "SELECT COUNT(*) FROM sale_lines WHERE $W_DAY")
count_30=$(db_secs "SELECT COUNT(*) FROM sale_lines WHERE $W_30")
cols_day=$(db_secs "SELECT $COLS FROM sale_lines WHERE $W_DAY" )
cols_30=$(db_secs "SELECT $COLS FROM sale_lines WHERE $W_30")
P=/v1/platform/markets/$MARKET
kpi_day=$(req_secs "$P/online-sales" "from=$DAY&to=$DAY")
kpi_30=$(req_secs "$P/online-sales" "from=$FIRST&to=$DAY")
recon=$(req_secs "$P/reconcile" "date=$DAY")
rows_30=$(sql -e "SELECT COUNT(*) FROM sale_lines WHERE $W_30")
echo "the statistics (best of 3; the limit: MariaDB's own time over the same rows, same run):"
row "online-sales, $DAY" "$kpi_day" "$count_day" "SELECT COUNT(*) of the day ($DAY_LINES rows)"
row "" "$kpi_day" "$cols_day" "SELECT the KPI columns of the day"
row "online-sales, $DAYS days" "$kpi_30" "$count_30" "SELECT COUNT(*) of the $DAYS days ($rows_30 rows)"
row "" "$kpi_30" "$cols_30" "SELECT the KPI columns of the $DAYS days"
row "reconcile, $DAY" "$recon" "$count_day" "SELECT COUNT(*) of the day"
row "" "$recon" "$cols_day" "SELECT the KPI columns of the day"
echo "(the log holds $(sql -e "SELECT COUNT(*) FROM sale_line_versions") versions; the server's log: $WORK/serve.log)"
