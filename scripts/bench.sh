#!/usr/bin/env bash
# One command for the benchmarks (issue 15): builds in release mode, runs each benchmark and
# rewrites the generated part of BENCHMARKS.md (between its two `bench.sh` markers) with the
# figures, the machine, its load before the run, the date, the commit and the exact commands.
# Not part of CI; takes several minutes. Comparisons are measured pair by pair in one run:
# the ratio of each pair is computed, and its median and spread over the rounds reported.
#
#   scripts/bench.sh [SECTION...]      SECTION: size verdict badge probe probe_postfix queue
#                                      policy delivery cluster scale
#                                      (default: all of them, in that order)
#
# `size` builds only the page (trunk, release) and weighs what the browser loads; alone, it
# builds nothing else.
#
# Environment: BENCH_ROUNDS (5) rounds of the verdict API pairs, BENCH_SECONDS (5) per wrk run,
# BENCH_CONNECTIONS ("1 64 512"), BENCH_FOLDED_RUNS (3) runs of each folded cargo bench,
# BENCH_BADGE_RUNS ("100 100": known and never-seen runs of badge_latency.mjs); BENCH_NO_BUILD=1
# skips the page's and the server's build (the report says so), for a quick second run.
# BENCH_PROBE_DOMAINS ("1000 10000"): the domain counts of the probe throughput runs.
# The scale section: BENCH_SCALE_DOMAINS (100000), BENCH_SCALE_OBSERVATIONS (1000000),
# BENCH_SCALE_CONNECTIONS ("1 64"), BENCH_SCALE_COLD_REQUESTS (200) per cold run
# (scripts/bench_scale.sh).
# The delivery and probe_postfix sections compare with a real Postfix and need root (the bench
# says so otherwise).

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/bench_cluster.sh"
source "$(dirname "${BASH_SOURCE[0]}")/bench_probe.sh"
source "$(dirname "${BASH_SOURCE[0]}")/bench_scale.sh"

ALL_SECTIONS=(size verdict badge probe probe_postfix queue policy delivery cluster scale)
ROUNDS="${BENCH_ROUNDS:-5}"
SECONDS_PER_RUN="${BENCH_SECONDS:-5}"
CONNECTIONS="${BENCH_CONNECTIONS:-1 64 512}"
FOLDED_RUNS="${BENCH_FOLDED_RUNS:-3}"
BADGE_RUNS="${BENCH_BADGE_RUNS:-100 100}"
PROBE_DOMAINS="${BENCH_PROBE_DOMAINS:-1000 10000}"
# Ten domains of the simulated internet, each judged once before the measurement (known).
VERDICT_DOMAINS=(dane-ee.test dane-ta.test tls.test plain.test refuse.test wrong-tlsa.test
  unsigned-tlsa.test bogus.test mixed.test dane-pair.test)
BIN="$ROOT/target/release/sendguard"
FIXED="$ROOT/target/release/examples/fixed_json"
BEGIN_MARK='<!-- bench.sh: generated part begins; edits inside are overwritten -->'
END_MARK='<!-- bench.sh: generated part ends -->'

WORK="$(mktemp -d -t sendguard-bench-XXXXXX)"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

ensure_bench_packages() {
  local missing=() p
  for p in wrk curl jq; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    step "Installing the load generator and its helpers from Debian: ${missing[*]}"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  fi
}

# Machine, load and version, as Markdown lines.
describe_machine() {
  local cpu mem dirty=""
  cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  mem="$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  git diff --quiet HEAD 2>/dev/null || dirty=" (with uncommitted changes)"
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- Commit: $(git rev-parse --short HEAD)$dirty"
  echo "- Machine: $(nproc) cores ($cpu), $mem memory, $(uname -sr)"
  echo "- Load average before the run (1, 5, 15 min): $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- Command: \`scripts/bench.sh ${SECTIONS[*]}\` with BENCH_ROUNDS=$ROUNDS," \
    "BENCH_SECONDS=$SECONDS_PER_RUN, BENCH_CONNECTIONS=\"$CONNECTIONS\"," \
    "BENCH_FOLDED_RUNS=$FOLDED_RUNS, BENCH_BADGE_RUNS=\"$BADGE_RUNS\"," \
    "BENCH_PROBE_DOMAINS=\"$PROBE_DOMAINS\""
}

# The sections print Markdown on standard output; progress goes to standard error.
note() { step "$@" >&2; }

# Starts a server command in the background, its output in $1.log, and sets SERVER_URL to the
# http://127.0.0.1:PORT/ it announces after the words $2 (within 30 s).
start_server() {
  local name="$1" words="$2"; shift 2
  "$@" >"$WORK/$name.log" 2>&1 &
  SERVER_PID="$!"
  PIDS+=("$SERVER_PID")
  local i
  for i in $(seq 1 300); do
    SERVER_URL="$(grep -oE "$words http://127\.0\.0\.1:[0-9]+/" "$WORK/$name.log" | head -n1 | grep -oE 'http://.*' || true)"
    [ -n "$SERVER_URL" ] && return
    sleep 0.1
  done
  cat "$WORK/$name.log" >&2
  die "$name did not start within 30 s"
}

# Signs in as the demo user whose password server $1 printed (in $1.log), at $2; sets COOKIE
# and CSRF, and writes the request of the ten addresses (request.json).
sign_in_demo() {
  local login password addresses
  read -r login password < <(sed -nE 's/^Demo user: (\S+), password: (\S+)$/\1 \2/p' "$WORK/$1.log")
  jq -n --arg l "$login" --arg p "$password" '{login: $l, password: $p}' >"$WORK/signin.json"
  curl -sf -D "$WORK/signin.headers" -H 'content-type: application/json' \
    --data-binary "@$WORK/signin.json" "${2}api/session" >"$WORK/session.json" || die "sign-in failed"
  COOKIE="$(grep -ioE 'set-cookie: sendguard_session=[^;]+' "$WORK/signin.headers" | cut -d' ' -f2)"
  CSRF="$(jq -r .csrf_token "$WORK/session.json")"
  addresses="$(printf 'user@%s\n' "${VERDICT_DOMAINS[@]}" | jq -R . | jq -s .)"
  jq -n --argjson a "$addresses" '{addresses: $a}' >"$WORK/request.json"
}

# POSTs the ten addresses until every answer is final and not being re-checked; leaves the
# answer in answer.json.
wait_until_known() {
  local url="$1" i pending
  for i in $(seq 1 120); do
    curl -sf -X POST -H 'content-type: application/json' -H "cookie: $COOKIE" \
      -H "x-csrf-token: $CSRF" --data-binary "@$WORK/request.json" \
      "${url}api/recipients/security" >"$WORK/answer.json" || die "the verdict API refused the request"
    pending="$(jq '[.results[] | select(.final.rechecking != false)] | length' "$WORK/answer.json")"
    [ "$pending" = 0 ] && return
    sleep 0.5
  done
  die "verdicts still pending after 60 s: $(cat "$WORK/answer.json")"
}

# The CPU time process $1 has used, in clock ticks (user and system, /proc/PID/stat).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# One wrk run; prints "rps p50_us p99_us requests non2xx socket_errors", and with the server's
# process id as $3 also the CPU time the server spent per request in µs: unlike the rate, that
# hardly depends on what else the machine runs. The request: POST api/recipients/security
# with the session's cookie, unless $4 names another "METHOD path".
wrk_run() {
  local url="$1" connections="$2" pid="${3:-}" request="${4:-POST api/recipients/security}"
  local threads=2 before result
  [ "$connections" -lt 2 ] && threads=1
  [ -n "$pid" ] && before="$(cpu_ticks "$pid")"
  result="$(BENCH_BODY_FILE="$WORK/request.json" BENCH_COOKIE="$COOKIE" BENCH_CSRF="$CSRF" \
    BENCH_METHOD="${request%% *}" \
    wrk -t"$threads" -c"$connections" -d"${SECONDS_PER_RUN}s" --timeout 10s \
    -s "$ROOT/tests/bench/verdict_post.lua" "${url}${request#* }" \
    | awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); printf "%s ", kv[2] } }')"
  if [ -n "$pid" ]; then
    awk -v r="$result" -v t="$(($(cpu_ticks "$pid") - before))" -v hz="$(getconf CLK_TCK)" \
      'BEGIN { split(r, f, " "); printf "%s%.1f\n", r, (f[4] > 0 ? t * 1e6 / hz / f[4] : 0) }'
  else
    echo "$result"
  fi
}

# Median and spread (min-max) of the numbers on standard input: "median min max".
median_spread() {
  sort -g | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    print m, v[1], v[NR] }'
}

section_verdict() {
  note "Verdict API against a trivial axum handler ($ROUNDS rounds, ${SECONDS_PER_RUN} s per run)"
  local url fixed_url c round s which u p
  start_server demo open env RUST_LOG=warn SENDGUARD_RATE_PER_CLIENT=0 SENDGUARD_RATE_PER_SESSION=0 \
    "$BIN" demo --listen 127.0.0.1:0 --verdict-max-age 86400 --min-reprobe-interval 86400
  url="$SERVER_URL"
  local pid="$SERVER_PID" fixed_pid
  sign_in_demo demo "$url"
  wait_until_known "$url"
  start_server fixed 'listening on' "$FIXED" --listen 127.0.0.1:0 --body "$WORK/answer.json"
  fixed_url="$SERVER_URL"
  fixed_pid="$SERVER_PID"
  # Warm-up of both, not counted.
  SECONDS_PER_RUN=1 wrk_run "$url" 8 >/dev/null
  SECONDS_PER_RUN=1 wrk_run "$fixed_url" 8 >/dev/null
  : >"$WORK/verdict.tsv"
  for round in $(seq 1 "$ROUNDS"); do
    for c in $CONNECTIONS; do
      # The pair back to back, its order alternating between rounds.
      if [ $((round % 2)) = 1 ]; then which="sendguard trivial"; else which="trivial sendguard"; fi
      for s in $which; do
        if [ "$s" = sendguard ]; then u="$url" p="$pid"; else u="$fixed_url" p="$fixed_pid"; fi
        echo "$round $c $s $(wrk_run "$u" "$c" "$p")" >>"$WORK/verdict.tsv"
        tail -n1 "$WORK/verdict.tsv" >&2
      done
    done
  done
  verdict_report "$(stat -c%s "$WORK/answer.json")"
  verdict_breakdown "$url" "$pid" "$fixed_url" "$fixed_pid"
}

# What parts of a verdict request cost, as the servers' CPU time per request at 64
# connections over the same rounds: the trivial handler, a request every middleware handles
# and the session extractor refuses (no cookie: 401), a signed-in request that only reads the
# session (GET /api/session), and the verdicts for 10 known domains.
verdict_breakdown() {
  local url="$1" pid="$2" fixed_url="$3" fixed_pid="$4" round kind
  : >"$WORK/breakdown.tsv"
  for round in $(seq 1 "$ROUNDS"); do
    for kind in trivial refused session verdicts; do
      case "$kind" in
        trivial) set -- "$fixed_url" "$fixed_pid" "POST api/recipients/security" ;;
        refused) set -- "$url" "$pid" "POST api/recipients/security" ;;
        session) set -- "$url" "$pid" "GET api/session" ;;
        verdicts) set -- "$url" "$pid" "POST api/recipients/security" ;;
      esac
      if [ "$kind" = refused ]; then
        echo "$round $kind $(COOKIE='' wrk_run "$1" 64 "$2" "$3")" >>"$WORK/breakdown.tsv"
      else
        echo "$round $kind $(wrk_run "$1" 64 "$2" "$3")" >>"$WORK/breakdown.tsv"
      fi
      tail -n1 "$WORK/breakdown.tsv" >&2
    done
  done
  echo
  echo "### Where a request's CPU time goes (64 connections)"
  echo
  echo "The same servers, $ROUNDS rounds of one ${SECONDS_PER_RUN}-s run per kind of request;"
  echo "median (min-max) of the server's CPU time per request answered:"
  echo
  echo "| request | status | CPU µs per request | req/s |"
  echo "|---|---|---|---|"
  local m lo hi r
  for kind in trivial refused session verdicts; do
    read -r m lo hi < <(awk -v k="$kind" '$2 == k { print $9 }' "$WORK/breakdown.tsv" | median_spread)
    read -r r _ _ < <(awk -v k="$kind" '$2 == k { print $3 }' "$WORK/breakdown.tsv" | median_spread)
    case "$kind" in
      trivial) echo -n "| the trivial handler's fixed JSON | 200" ;;
      refused) echo -n "| \`POST /api/recipients/security\` without a cookie: every middleware and the router | 401" ;;
      session) echo -n "| \`GET /api/session\`: the middleware and the session extractor | 200" ;;
      verdicts) echo -n "| \`POST /api/recipients/security\`, 10 known domains | 200" ;;
    esac
    echo " | $(printf '%.0f (%.0f-%.0f)' "$m" "$lo" "$hi") | $(printf '%.0f' "$r") |"
  done
}

# The Markdown of the verdict section, from verdict.tsv (round c server rps p50 p99 n non2xx err).
verdict_report() {
  local size="$1" c s col
  echo "## Verdict API: \`POST /api/recipients/security\` against a trivial axum handler"
  echo
  echo "10 known domains per request (${VERDICT_DOMAINS[*]}), signed in (session cookie and"
  echo "CSRF token), rate limits off, against \`sendguard demo\` (the simulated internet; every"
  echo "domain judged before). The trivial handler (\`server/examples/fixed_json.rs\`) answers the"
  echo "same $size-byte JSON the real one answered. Load from wrk ($(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2)), one run"
  echo "of ${SECONDS_PER_RUN} s per server and connection count, the two servers back to back, over"
  echo "$ROUNDS rounds; each figure is the median with its range (min-max) over the rounds, the"
  echo "ratio that of each round's pair. Client and servers share the machine's cores, so the"
  echo "last columns add what each server spent of them: its CPU time (user and system, from"
  echo "/proc) per request answered, which depends far less on what else the machine runs."
  echo
  echo "| connections | sendguard req/s | trivial req/s | ratio (goal ≥ 0.7) | sendguard p50 / p99 | trivial p50 / p99 | errors | CPU µs per request, sendguard / trivial | CPU ratio trivial / sendguard |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for c in $CONNECTIONS; do
    local row="| $c"
    for s in sendguard trivial; do
      read -r m lo hi < <(awk -v c="$c" -v s="$s" '$2 == c && $3 == s { print $4 }' "$WORK/verdict.tsv" | median_spread)
      row+=" | $(printf '%.0f (%.0f-%.0f)' "$m" "$lo" "$hi")"
    done
    read -r m lo hi < <(awk -v c="$c" '$2 == c { r[$1, $3] = $4; k[$1] = 1 }
      END { for (i in k) if (r[i, "trivial"] > 0) print r[i, "sendguard"] / r[i, "trivial"] }' "$WORK/verdict.tsv" | median_spread)
    row+=" | $(printf '**%.2f** (%.2f-%.2f)' "$m" "$lo" "$hi")"
    for s in sendguard trivial; do
      local p50 p99
      read -r p50 _ _ < <(awk -v c="$c" -v s="$s" '$2 == c && $3 == s { print $5 / 1000 }' "$WORK/verdict.tsv" | median_spread)
      read -r p99 lo hi < <(awk -v c="$c" -v s="$s" '$2 == c && $3 == s { print $6 / 1000 }' "$WORK/verdict.tsv" | median_spread)
      row+=" | $(printf '%.2f / %.2f ms (p99 %.2f-%.2f)' "$p50" "$p99" "$lo" "$hi")"
    done
    col="$(awk -v c="$c" '$2 == c { n += $8 + $9 } END { print n + 0 }' "$WORK/verdict.tsv")"
    row+=" | $col"
    local cpu=()
    for s in sendguard trivial; do
      read -r m _ _ < <(awk -v c="$c" -v s="$s" '$2 == c && $3 == s { print $10 }' "$WORK/verdict.tsv" | median_spread)
      cpu+=("$m")
    done
    read -r m lo hi < <(awk -v c="$c" '$2 == c { r[$1, $3] = $10; k[$1] = 1 }
      END { for (i in k) if (r[i, "sendguard"] > 0) print r[i, "trivial"] / r[i, "sendguard"] }' "$WORK/verdict.tsv" | median_spread)
    echo "$row | $(printf '%.0f / %.0f' "${cpu[0]}" "${cpu[1]}") | $(printf '%.2f (%.2f-%.2f)' "$m" "$lo" "$hi") |"
  done
  echo
  echo "Every run (round, connections, server, req/s, p50 µs, p99 µs, requests, non-2xx, socket errors, CPU µs per request):"
  echo
  echo '```'
  cat "$WORK/verdict.tsv"
  echo '```'
}

# Runs cargo bench $1 FOLDED_RUNS times with the environment "$@" after it, appending its
# RESULT lines to $WORK/$1.results and its whole output to $WORK/$1.out.
run_folded() {
  local name="$1" i; shift
  for i in $(seq 1 "$FOLDED_RUNS"); do
    note "cargo bench --bench $name $* (run $i of $FOLDED_RUNS)"
    env "$@" cargo bench -p sendguard --locked --bench "$name" 2>"$WORK/$name.err" \
      | tee -a "$WORK/$name.out" | grep '^RESULT' >>"$WORK/$name.results" \
      || { tail -n 20 "$WORK/$name.err" >&2; note "$name failed"; echo "(run $i failed)" >>"$WORK/$name.out"; }
  done
}

# The values of key $2 on the RESULT lines of file $1 (of label $3 only, when given).
result_values() {
  awk -v f="$2" -v l="${3:-}" '$1 == "RESULT" && (l == "" || $2 == l) {
    for (i = 3; i <= NF; i++) if (index($i, f "=") == 1) print substr($i, length(f) + 2) }' "$1"
}

# Median and range of key $2 over the RESULT lines in file $1, formatted with printf format $3:
# "median (min-max)".
result_stat() {
  local m lo hi values
  values="$(result_values "$1" "$2")"
  [ -n "$values" ] || { echo "n/a"; return; }
  read -r m lo hi < <(median_spread <<<"$values")
  printf "$3 ($3-$3)" "$m" "$lo" "$hi"
}

# A cargo bench run FOLDED_RUNS times: the median and spread of each figure it reports on a
# `RESULT LABEL key=value ...` line, then what the runs printed.
section_cargo_bench() {
  local name="$1" title="$2"
  : >"$WORK/$name.results"
  : >"$WORK/$name.out"
  run_folded "$name"
  echo "## $title"
  echo
  echo "\`cargo bench -p sendguard --locked --bench $name\`, $FOLDED_RUNS runs."
  fold_results "$WORK/$name.results"
  echo
  echo "What the runs printed, one after the other:"
  echo
  echo '```'
  grep -v '^RESULT \|^$' "$WORK/$name.out"
  echo '```'
}

# The RESULT lines of the file $1 as a table: each label's figure, median (min-max) over the runs.
fold_results() {
  grep -q '^RESULT ' "$1" || return 0
  echo
  echo "| figure | median (min-max) | runs |"
  echo "|---|---|---|"
  local key
  for key in $(awk '/^RESULT / { for (i = 3; i <= NF; i++) { split($i, kv, "="); k = $2 " " kv[1]
      if (!(k in seen)) { seen[k] = 1; print $2 "|" kv[1] } } }' "$1"); do
    local label="${key%%|*}" field="${key#*|}" values m lo hi
    values="$(result_values "$1" "$field" "$label")"
    read -r m lo hi < <(median_spread <<<"$values")
    echo "| ${label//_/ } ${field//_/ } | $m ($lo-$hi) | $(wc -l <<<"$values") |"
  done
}

section_badge() {
  note "Enter to a painted badge in headless Chromium"
  ensure_npm_packages >&2
  ensure_chromium >&2
  local known unseen
  read -r known unseen <<<"$BADGE_RUNS"
  echo "## Enter to a painted badge (headless Chromium)"
  echo
  echo "\`SENDGUARD_BIN=target/release/sendguard node tests/bench/badge_latency.mjs $known $unseen\`"
  echo "(one run of $known and $unseen samples; the script's own percentiles, in ms):"
  echo
  echo '```'
  SENDGUARD_BIN="$BIN" node tests/bench/badge_latency.mjs "$known" "$unseen" 2>&1 | grep -v '^$' \
    || echo "(failed)"
  echo '```'
}

section_size() {
  note "The page's size (dist/ from trunk build --release)"
  local sizes
  sizes="$(bundle_sizes)"
  echo "## Frontend size: everything the browser loads"
  echo
  echo "\`trunk build --release --cargo-profile wasm-release\` (\`scripts/lib.sh\` build_frontend:"
  echo "the \`wasm-release\` profile, wasm-opt -Oz), then each file of \`dist/\` raw and \`gzip -9\`"
  echo "(\`scripts/lib.sh\` bundle_sizes). Every page is in the one wasm file: sign-in, compose,"
  echo "Sent, settings, admin. Goals: issue 5 at most 250,000 B gzip (\`scripts/test.sh\` fails"
  echo "above \`BUNDLE_BUDGET_GZIP\` in \`scripts/lib.sh\`), issue 15 at most 180,000 B."
  echo
  echo "| file | raw | gzip -9 |"
  echo "|---|---|---|"
  awk 'function th(n) { while (n ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", n); return n }
    $1 != "total" { sub(/^dist\//, "", $1); sub(/-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]+/, "", $1)
      printf "| %s | %s B | %s B |\n", $1, th($2), th($3) }
    $1 == "total" { printf "| **total** | %s B | **%s B** |\n", th($2), th($3) }' <<<"$sizes"
}

run_section() {
  case "$1" in
    size) section_size ;;
    verdict) section_verdict ;;
    badge) section_badge ;;
    probe) section_probe ;;
    probe_postfix) section_probe_postfix ;;
    queue) section_cargo_bench queue_cost "The durable queue's cost per message" ;;
    policy) section_cargo_bench policy_table "Postfix TLS policy table lookups" ;;
    delivery) section_cargo_bench delivery_vs_postfix "Delivery with TLS against a real Postfix" ;;
    cluster) section_cluster ;;
    scale) section_scale ;;
    *) die "unknown section $1 (known: ${ALL_SECTIONS[*]})" ;;
  esac
}

# Replaces the text between the markers in BENCHMARKS.md by the file $1.
rewrite_benchmarks() {
  grep -qxF "$BEGIN_MARK" BENCHMARKS.md && grep -qxF "$END_MARK" BENCHMARKS.md \
    || die "BENCHMARKS.md lacks the bench.sh markers"
  awk -v begin="$BEGIN_MARK" -v end="$END_MARK" -v file="$1" '
    $0 == begin { print; while ((getline line < file) > 0) print line; skip = 1; next }
    $0 == end { skip = 0 }
    !skip { print }' BENCHMARKS.md >"$WORK/BENCHMARKS.md"
  cp "$WORK/BENCHMARKS.md" BENCHMARKS.md
}

# Keeps the sections ("## " and what follows) of the generated part that this run does not
# measure, so that a run of some sections does not drop the others' figures: saved at the
# start in previous.md, each marked with the date and commit of the run that measured it.
save_previous_sections() {
  local date commit
  awk -v begin="$BEGIN_MARK" -v end="$END_MARK" '
    $0 == begin { on = 1; next } $0 == end { on = 0 } on' BENCHMARKS.md >"$WORK/previous-part.md"
  date="$(sed -n 's/^- Date: //p' "$WORK/previous-part.md" | head -n1)"
  commit="$(sed -n 's/^- Commit: //p' "$WORK/previous-part.md" | head -n1)"
  awk -v note="(Carried over from the run of $date, commit $commit.)" '
    /^# / { on = 0; next }
    /^## / { on = 1; title = 1; print; next }
    on && title && /^$/ { print; next }
    on && title { title = 0; if ($0 !~ /^\(Carried over/) { print note; print "" } }
    on' "$WORK/previous-part.md" >"$WORK/previous.md"
}

# Prints the saved sections whose titles the file $1 (this run's part) does not have.
carried_over() {
  awk -v file="$1" 'BEGIN { while ((getline line < file) > 0) if (line ~ /^## /) have[line] = 1 }
    /^## / { keep = !($0 in have); if (keep && !n++) print "\n# Sections of earlier runs\n" }
    keep' "$WORK/previous.md"
}

main() {
  SECTIONS=("$@")
  [ "${#SECTIONS[@]}" -gt 0 ] || SECTIONS=("${ALL_SECTIONS[@]}")
  local machine s
  machine="$(describe_machine)"  # the load before anything of ours runs
  ensure_bench_packages
  # Only the page is needed when its size is all that is measured.
  local server=0
  for s in "${SECTIONS[@]}"; do [ "$s" = size ] || server=1; done
  if [ "${BENCH_NO_BUILD:-}" = 1 ]; then
    machine+=$'\n'"- Built beforehand (BENCH_NO_BUILD=1): the release binaries already in target/"
  else
    ensure_build_tools
    build_frontend
    [ "$server" = 0 ] || build_server
  fi
  if [ "$server" = 1 ]; then
    step "Building the trivial handler and the benches the sections need (release)"
    cargo build --release --locked -p sendguard --example fixed_json
    # The cargo benches take minutes to build; only when a section runs one.
    for s in "${SECTIONS[@]}"; do
      case "$s" in
        probe | queue | policy | delivery)
          cargo bench -p sendguard --locked --no-run
          break
          ;;
        scale) cargo bench -p sendguard --locked --bench store_scale --no-run ;;
      esac
    done
  fi
  save_previous_sections
  printf '\n# Latest run of scripts/bench.sh\n\n%s\n' "$machine" >"$WORK/generated.md"
  # Written after each section, so that a run cut short keeps what it measured.
  for s in "${SECTIONS[@]}"; do
    echo >>"$WORK/generated.md"
    run_section "$s" >>"$WORK/generated.md"
    { cat "$WORK/generated.md"; carried_over "$WORK/generated.md"; } >"$WORK/part.md"
    rewrite_benchmarks "$WORK/part.md"
    step "BENCHMARKS.md rewritten with section $s"
  done
}

main "$@"
