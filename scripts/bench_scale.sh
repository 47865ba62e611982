# Sourced by scripts/bench.sh: the `scale` section (issue 15, item 6). The server's memory and
# verdict lookups with a large store: `cargo bench --bench store_scale` builds a SQLite database
# of BENCH_SCALE_DOMAINS (100,000) domains and about BENCH_SCALE_OBSERVATIONS (1,000,000)
# observations (the rows the real record path writes, copied per domain in SQL), then
# `sendguard demo --database` starts on it (the simulated internet as its resolver, re-probing
# off: every verdict is younger than --verdict-max-age). Every tenth domain is made recently
# used (asked for once, 200 addresses per request); then memory (VmRSS, VmHWM) is read and
# wrk asks for ten of those at random per request (tests/bench/verdict_scale.lua), and then for
# ten never asked before (cold: read from the store), BENCH_SCALE_COLD_REQUESTS per run.

SCALE_DOMAINS="${BENCH_SCALE_DOMAINS:-100000}"
SCALE_OBSERVATIONS="${BENCH_SCALE_OBSERVATIONS:-1000000}"
SCALE_CONNECTIONS="${BENCH_SCALE_CONNECTIONS:-1 64}"
SCALE_COLD_REQUESTS="${BENCH_SCALE_COLD_REQUESTS:-200}"
SCALE_STEP=10

# The value of the arithmetic expression $1 (awk's).
calc() { awk "BEGIN { print $1 }"; }

# A kB field of /proc/PID/status in MiB with one decimal.
proc_mib() {
  awk -v f="$2:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

# One wrk run of verdict_scale.lua: $1 URL, $2 connections, $3 hot|cold, $4 first cold domain.
scale_wrk() {
  local url="$1" connections="$2" pick="$3" start="${4:-0}" threads=2 limit=0
  [ "$connections" -lt 2 ] && threads=1
  if [ "$pick" = cold ]; then threads=1; limit="$SCALE_COLD_REQUESTS"; fi
  BENCH_COOKIE="$COOKIE" BENCH_CSRF="$CSRF" BENCH_SCALE_DOMAINS="$SCALE_DOMAINS" \
    BENCH_SCALE_STEP="$SCALE_STEP" BENCH_SCALE_PICK="$pick" BENCH_SCALE_START="$start" \
    BENCH_SCALE_REQUESTS="$limit" BENCH_SCALE_CONNECTIONS="$connections" \
    wrk -t"$threads" -c"$connections" -d"${SECONDS_PER_RUN}s" --timeout 10s \
    -s "$ROOT/tests/bench/verdict_scale.lua" "${url}api/recipients/security" \
    | awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); printf "%s ", kv[2] } print "" }'
}

# Asks for every recently used domain once, 200 addresses per request; prints the seconds.
scale_make_recent() {
  local url="$1" started i n batch
  started="$(date +%s.%N)"
  for ((i = 0; i < SCALE_DOMAINS; i += 200 * SCALE_STEP)); do
    batch=()
    for ((n = i; n < i + 200 * SCALE_STEP && n < SCALE_DOMAINS; n += SCALE_STEP)); do
      batch+=("$(printf 'u@scale-%06d.example' "$n")")
    done
    printf '%s\n' "${batch[@]}" | jq -R . | jq -sc '{addresses: .}' >"$WORK/recent.json"
    curl -sf -X POST -H 'content-type: application/json' -H "cookie: $COOKIE" \
      -H "x-csrf-token: $CSRF" --data-binary "@$WORK/recent.json" \
      "${url}api/recipients/security" >"$WORK/recent-answer.json" || die "the verdict API refused"
    [ "$(jq '[.results[] | select(.final.rechecking == false)] | length' "$WORK/recent-answer.json")" \
      = "${#batch[@]}" ] || die "not every recently used domain is known: $(head -c 400 "$WORK/recent-answer.json")"
  done
  calc "$(date +%s.%N) - $started"
}

section_scale() {
  note "Server memory and lookups with $SCALE_DOMAINS domains in the store"
  local db="$WORK/scale.db" build url pid started start_s rss0 rss1 hwm0 recent_s round c cold
  build="$(SENDGUARD_SCALE_DB="$db" SENDGUARD_SCALE_DOMAINS="$SCALE_DOMAINS" \
    SENDGUARD_SCALE_OBSERVATIONS="$SCALE_OBSERVATIONS" \
    cargo bench -p sendguard --locked --bench store_scale 2>"$WORK/store_scale.err")" \
    || { tail -n 20 "$WORK/store_scale.err" >&2; die "store_scale failed"; }
  echo "$build" >&2
  started="$(date +%s.%N)"
  start_server scale open env RUST_LOG=warn SENDGUARD_RATE_PER_CLIENT=0 \
    SENDGUARD_RATE_PER_SESSION=0 "$BIN" demo --listen 127.0.0.1:0 --database "$db" \
    --verdict-max-age 86400 --min-reprobe-interval 86400
  start_s="$(calc "$(date +%s.%N) - $started")"
  url="$SERVER_URL"
  pid="${PIDS[-1]}"
  sleep 2 # the retention sweep at start runs beside the first requests; let it end
  rss0="$(proc_mib "$pid" VmRSS)"
  hwm0="$(proc_mib "$pid" VmHWM)"
  sign_in_demo scale "$url"
  recent_s="$(scale_make_recent "$url")"
  rss1="$(proc_mib "$pid" VmRSS)"
  SECONDS_PER_RUN=1 scale_wrk "$url" 8 hot >/dev/null # warm-up, not counted
  : >"$WORK/scale.tsv"
  cold=0
  for round in $(seq 1 "$ROUNDS"); do
    for c in $SCALE_CONNECTIONS; do
      echo "$round $c hot $(scale_wrk "$url" "$c" hot)" >>"$WORK/scale.tsv"
      tail -n1 "$WORK/scale.tsv" >&2
    done
  done
  local rss2 hwm2
  rss2="$(proc_mib "$pid" VmRSS)"
  hwm2="$(proc_mib "$pid" VmHWM)"
  for round in $(seq 1 "$ROUNDS"); do
    for c in $SCALE_CONNECTIONS; do
      echo "$round $c cold $(scale_wrk "$url" "$c" cold "$cold")" >>"$WORK/scale.tsv"
      tail -n1 "$WORK/scale.tsv" >&2
      cold=$((cold + (SCALE_COLD_REQUESTS + c) * 10))
    done
  done
  scale_report "$build" "$start_s" "$rss0" "$hwm0" "$recent_s" "$rss1" "$rss2" "$hwm2" \
    "$(proc_mib "$pid" VmRSS)" "$(proc_mib "$pid" VmHWM)"
}

# The Markdown of the scale section, from scale.tsv (round c pick rps p50 p99 n non2xx err).
scale_report() {
  local build="$1" start_s="$2" rss0="$3" hwm0="$4" recent_s="$5" rss1="$6" rss2="$7" hwm2="$8"
  local rss3="$9" hwm3="${10}" recent=$(( (SCALE_DOMAINS + SCALE_STEP - 1) / SCALE_STEP )) c pick
  echo "## Server memory and lookups at $SCALE_DOMAINS domains"
  echo
  echo "\`scripts/bench.sh scale\`: \`cargo bench -p sendguard --bench store_scale\` builds the"
  echo "SQLite store (templates recorded through the real record path, copied per domain in SQL),"
  echo "then \`sendguard demo --database\` serves it (rate limits off, every verdict final). What"
  echo "the generator printed:"
  echo
  echo '```'
  echo "$build"
  echo '```'
  echo
  echo "| | |"
  echo "|---|---|"
  printf '| start (launch to listening, ±0.1 s) | %.1f s |\n' "$start_s"
  echo "| memory listening (2 s after start) | VmRSS $rss0 MiB, VmHWM $hwm0 MiB |"
  printf '| %s domains made recently used (200 per request, 1 connection) | %.1f s = %.0f cold lookups/s |\n' \
    "$recent" "$recent_s" "$(calc "$recent / $recent_s")"
  echo "| memory after that | VmRSS $rss1 MiB ($(printf '%.0f' "$(calc "($rss1 - $rss0) * 1048576 / $recent")") bytes per domain) |"
  echo "| after the hot runs | VmRSS $rss2 MiB, VmHWM $hwm2 MiB |"
  echo "| at the end (after the cold runs) | VmRSS $rss3 MiB, VmHWM $hwm3 MiB |"
  echo
  echo "\`POST /api/recipients/security\`, 10 addresses per request, signed in; hot: ten of the"
  echo "$recent recently used domains at random, cold: ten never asked before (read from the"
  echo "store), $SCALE_COLD_REQUESTS requests per run (its req/s: connections over the mean latency). ${SECONDS_PER_RUN} s per hot run, $ROUNDS rounds;"
  echo "median (min-max) over the rounds. Client and server share the machine's cores."
  echo
  echo "| domains | connections | req/s | lookups/s | p50 / p99 | errors |"
  echo "|---|---|---|---|---|---|"
  for pick in hot cold; do
    for c in $SCALE_CONNECTIONS; do
      local m lo hi p50 p99 err
      read -r m lo hi < <(awk -v c="$c" -v p="$pick" '$2 == c && $3 == p { print $4 }' "$WORK/scale.tsv" | median_spread)
      read -r p50 _ _ < <(awk -v c="$c" -v p="$pick" '$2 == c && $3 == p { print $5 / 1000 }' "$WORK/scale.tsv" | median_spread)
      read -r p99 _ _ < <(awk -v c="$c" -v p="$pick" '$2 == c && $3 == p { print $6 / 1000 }' "$WORK/scale.tsv" | median_spread)
      err="$(awk -v c="$c" -v p="$pick" '$2 == c && $3 == p { n += $8 + $9 } END { print n + 0 }' "$WORK/scale.tsv")"
      printf '| %s | %s | %.0f (%.0f-%.0f) | **%.0f** | %.2f / %.2f ms | %s |\n' \
        "$pick" "$c" "$m" "$lo" "$hi" "$(calc "$m * 10")" "$p50" "$p99" "$err"
    done
  done
  echo
  echo "Every run (round, connections, domains, req/s, p50 µs, p99 µs, requests, non-2xx, socket errors):"
  echo
  echo '```'
  cat "$WORK/scale.tsv"
  echo '```'
}
