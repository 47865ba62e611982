# Sourced by scripts/bench.sh: the `cluster` section (issue 16). The verdict API's throughput
# with 1, 2 and 3 `sendguard demo` instances sharing one private PostgreSQL (lib.sh's
# start_postgres), and one instance on SQLite in the same run. Each demo has its own simulated
# internet; the verdicts, the user and the session come from the shared database (every domain
# judged before, re-probing off). The load is the same in every case: BENCH_CLUSTER_CONNECTIONS
# (64) connections in all, split evenly over one wrk per instance, run at the same time; the
# figure is their sum. Everything shares the machine's cores, PostgreSQL included.

CLUSTER_CONNECTIONS="${BENCH_CLUSTER_CONNECTIONS:-64}"
CLUSTER_MESSAGES="${BENCH_CLUSTER_MESSAGES:-300}"
# Recipients of the delivery rate: servers of every demo's simulated internet.
CLUSTER_DOMAINS=(tls.test dane-ee.test plain.test)

# Starts a demo on database $2 as server $1; sets SERVER_URL.
cluster_demo() {
  start_server "$1" open env RUST_LOG=warn SENDGUARD_RATE_PER_CLIENT=0 SENDGUARD_RATE_PER_SESSION=0 \
    "$BIN" demo --listen 127.0.0.1:0 --database "$2" --verdict-max-age 86400 \
    --min-reprobe-interval 86400
}

# wrk against each URL given at once, CLUSTER_CONNECTIONS in all; prints the summed req/s and
# the worst p99 (µs) and the non-2xx and socket errors summed.
cluster_load() {
  local n=$# each i u
  each=$(( CLUSTER_CONNECTIONS / n ))
  i=0
  for u in "$@"; do
    wrk_run "$u" "$each" >"$WORK/wrk.$i" &
    i=$((i + 1))
  done
  wait
  cat "$WORK"/wrk.* | awk '{ rps += $1; if ($3 > p99) p99 = $3; bad += $5 + $6 }
    END { printf "%.0f %d %d\n", rps, p99, bad }'
  rm -f "$WORK"/wrk.*
}

section_cluster() {
  note "Several instances on one PostgreSQL ($ROUNDS rounds, ${SECONDS_PER_RUN} s per run)"
  start_postgres >&2
  psql -q "$SENDGUARD_TEST_POSTGRES" -c "CREATE DATABASE bench" >&2
  local pg="${SENDGUARD_TEST_POSTGRES%/*}/bench" urls=() k round n
  for k in 1 2 3; do
    cluster_demo "pg$k" "$pg"
    urls+=("$SERVER_URL")
  done
  # The last demo to start set the demo user's password (and ended older sessions).
  sign_in_demo pg3 "${urls[0]}"
  wait_until_known "${urls[0]}"
  cluster_demo sqlite "$WORK/bench-sqlite.db"
  local sqlite_url="$SERVER_URL" pg_cookie="$COOKIE" pg_csrf="$CSRF"
  sign_in_demo sqlite "$sqlite_url"
  wait_until_known "$sqlite_url"
  local sqlite_cookie="$COOKIE" sqlite_csrf="$CSRF"
  : >"$WORK/cluster.tsv"
  for round in $(seq 1 "$ROUNDS"); do
    COOKIE="$sqlite_cookie" CSRF="$sqlite_csrf"
    echo "$round sqlite1 $(cluster_load "$sqlite_url")" >>"$WORK/cluster.tsv"
    COOKIE="$pg_cookie" CSRF="$pg_csrf"
    for n in 1 2 3; do
      echo "$round pg$n $(cluster_load "${urls[@]:0:$n}")" >>"$WORK/cluster.tsv"
    done
    tail -n4 "$WORK/cluster.tsv" >&2
  done
  stop_demos
  : >"$WORK/delivery.tsv"
  for round in $(seq 1 "$ROUNDS"); do
    for n in 1 2 3; do
      echo "$round $n $(cluster_delivery "$n" "r${round}n$n")" >>"$WORK/delivery.tsv"
      tail -n1 "$WORK/delivery.tsv" >&2
    done
  done
  stop_postgres
  cluster_report
}

# Stops every server started so far.
stop_demos() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}

# The delivery rate of $1 instances on a new database $2: CLUSTER_MESSAGES messages, one
# recipient each, handed to the instances in turn (curl, 16 at a time) while they deliver;
# prints "messages seconds per_second", the time from the first hand-over until every recipient
# was sent (or held, or failed: counted as done) by whichever instance claimed it.
cluster_delivery() {
  local n="$1" name="$2" db urls=() k i start done_ elapsed
  psql -q "$SENDGUARD_TEST_POSTGRES" -c "CREATE DATABASE $name" >&2
  db="${SENDGUARD_TEST_POSTGRES%/*}/$name"
  for k in $(seq 1 "$n"); do
    cluster_demo "$name-$k" "$db"
    urls+=("$SERVER_URL")
  done
  sign_in_demo "$name-$n" "${urls[0]}"
  # The request bodies and their instance first, then handed over 16 at a time.
  for i in $(seq 0 $((CLUSTER_MESSAGES - 1))); do
    jq -nc --arg to "user$i@${CLUSTER_DOMAINS[$((i % 3))]}" \
      '{from: "maxima.mustermann@sendguard.example", to: [$to], subject: "bench", body: "text"}' \
      >"$WORK/msg.$i.json"
    echo "$i ${urls[$((i % n))]}"
  done >"$WORK/handover"
  export COOKIE CSRF WORK
  start=$(date +%s.%N)
  xargs -P 16 -L 1 sh -c 'curl -sf -o /dev/null -X POST -H "content-type: application/json" \
    -H "cookie: $COOKIE" -H "x-csrf-token: $CSRF" --data-binary "@$WORK/msg.$0.json" \
    "${1}api/messages" || echo "message $0 was refused" >&2' <"$WORK/handover"
  for i in $(seq 1 1200); do
    done_="$(psql -qtA "$db" -c "SELECT count(*) FROM message_recipients
      WHERE state IN ('sent', 'held', 'failed')")"
    [ "$done_" -ge "$CLUSTER_MESSAGES" ] && break
    sleep 0.1
  done
  elapsed="$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')"
  stop_demos
  awk -v m="$done_" -v t="$elapsed" 'BEGIN { printf "%d %.2f %.1f\n", m, t, m / t }'
}

# The Markdown of the cluster section, from cluster.tsv (round setup rps p99_us errors).
cluster_report() {
  local setup label
  echo "## Verdict API with several instances on one PostgreSQL (issue 16)"
  echo
  echo "\`POST /api/recipients/security\` (the ten known domains of the verdict section, signed in)"
  echo "against \`sendguard demo\` instances: one on SQLite, then 1, 2 and 3 sharing a private"
  echo "PostgreSQL (\`start_postgres\` of scripts/lib.sh: fsync off) with one session. $CLUSTER_CONNECTIONS"
  echo "connections in all, split over one wrk per instance running at once; ${SECONDS_PER_RUN} s"
  echo "per run, $ROUNDS rounds; median (min-max) of the summed req/s. Servers, PostgreSQL and the"
  echo "load generators share the machine's cores, so more instances cannot add cores here: the"
  echo "figure shows what sharing the database costs, not what more machines would give."
  echo
  echo "| setup | req/s | p99 (worst instance) | errors |"
  echo "|---|---|---|---|"
  for setup in sqlite1 pg1 pg2 pg3; do
    case "$setup" in
      sqlite1) label="1 instance, SQLite" ;;
      pg1) label="1 instance, PostgreSQL" ;;
      *) label="${setup#pg} instances, PostgreSQL" ;;
    esac
    awk -v s="$setup" '$2 == s { print $3 }' "$WORK/cluster.tsv" | median_spread \
      | { read -r m lo hi; printf '| %s | %.0f (%.0f-%.0f) ' "$label" "$m" "$lo" "$hi"; }
    awk -v s="$setup" '$2 == s { print $4 }' "$WORK/cluster.tsv" | median_spread \
      | { read -r m lo hi; awk -v m="$m" 'BEGIN { printf "| %.2f ms ", m / 1000 }'; }
    awk -v s="$setup" '$2 == s { e += $5 } END { printf "| %d |\n", e }' "$WORK/cluster.tsv"
  done
  echo
  echo "Every run (round, setup, req/s, worst p99 µs, errors):"
  echo
  echo '```'
  cat "$WORK/cluster.tsv"
  echo '```'
  echo
  echo "### Delivery rate with 1, 2 and 3 instances on one PostgreSQL"
  echo
  echo "$CLUSTER_MESSAGES messages of one recipient each (to tls.test, dane-ee.test and plain.test in turn),"
  echo "handed to the instances in turn over HTTP (curl, 16 at a time) while they deliver to"
  echo "their simulated internets; the time from the first hand-over until every recipient is"
  echo "done (sent, held or failed), a new database each run; median (min-max) over $ROUNDS rounds."
  echo
  echo "| instances | messages per second | seconds |"
  echo "|---|---|---|"
  for n in 1 2 3; do
    awk -v n="$n" '$2 == n { print $5 }' "$WORK/delivery.tsv" | median_spread \
      | { read -r m lo hi; printf '| %s | %.1f (%.1f-%.1f) ' "$n" "$m" "$lo" "$hi"; }
    awk -v n="$n" '$2 == n { print $4 }' "$WORK/delivery.tsv" | median_spread \
      | { read -r m lo hi; printf '| %.1f |\n' "$m"; }
  done
  echo
  echo "Every run (round, instances, done, seconds, per second):"
  echo
  echo '```'
  cat "$WORK/delivery.tsv"
  echo '```'
}
