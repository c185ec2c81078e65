# Shell helpers of the loadtest scripts (sourced, not run). The caller sets WORK (a scratch
# directory) and PIDS (an array; its cleanup kills them), and `set -euo pipefail`.

# A TCP port on 127.0.0.1 nobody listens on, below the ephemeral range (Linux: 32768 up) so
# that no outgoing connection holds it.
free_port() {
    local p
    for _ in $(seq 50); do
        p=$(shuf -i 20000-32000 -n 1)
        [[ -z $(ss -tanH "sport = :$p" 2>/dev/null) ]] || continue
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
    echo "no free port found" >&2
    exit 1
}

# Waits up to 10 s for GET /healthz to answer on PORT.
wait_port() { # PORT
    for _ in $(seq 100); do
        curl -fsS -o /dev/null "http://127.0.0.1:$1/healthz" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing answered on port $1 (logs in $WORK; KEEP=1 keeps them)" >&2
    exit 1
}

# h2load over h2c; the whole output in $WORK/h2load.out. Exits unless every one of the N
# requests was answered 2xx. Prints requests/s.
h2load_rps() { # N CONNS STREAMS URL [h2load args...]
    local n=$1 c=$2 m=$3 url=$4 out ok
    shift 4
    out=$(h2load -c"$c" -m"$m" -t1 -n "$n" "$@" "$url" 2>&1)
    printf '%s\n' "$out" >"$WORK/h2load.out"
    ok=$(awk '/status codes:/ {print $3}' <<<"$out")
    [[ $ok == "$n" ]] || { echo "only ${ok:-0} of $n answered 2xx at $url" >&2; echo "$out" >&2; exit 1; }
    awk '/^finished in/ {print $4}' <<<"$out"
}

# A quantile (0..1) of the third column (µs) of an h2load --log-file, in ms.
h2load_quantile_ms() { # LOGFILE Q
    cut -f3 "$1" | sort -n | awk -v q="$2" '{v[NR] = $1} END {i = int(NR * q); if (i < 1) i = 1; printf "%.2f", v[i] / 1000}'
}

# Debian's h2o serving the files of DOCROOT with THREADS threads, its access log to LOG
# (/dev/null: none written); sets PORT. h2o started as root serves and logs as nobody:
# DOCROOT and the log's directory must be readable/writable by it.
start_h2o() { # NAME DOCROOT LOG THREADS
    local port
    port=$(free_port)
    PORT=$port
    printf 'listen:\n  host: 127.0.0.1\n  port: %s\nnum-threads: %s\nhosts:\n  default:\n    paths:\n' \
        "$port" "$4" >"$WORK/$1.conf"
    printf '      /:\n        file.dir: %s\naccess-log: %s\n' "$2" "$3" >>"$WORK/$1.conf"
    h2o -c "$WORK/$1.conf" >"$WORK/$1.log" 2>&1 &
    PIDS+=($!)
}
