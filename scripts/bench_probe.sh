# Sourced by scripts/bench.sh: the `probe` and `probe_postfix` sections (issue 15, item 4).
#
# probe: `cargo bench --bench probe_floor` (one never-seen DANE domain at a simulated
# round-trip time of 20 ms against the protocol's floor of 7 round trips) and `cargo bench
# --bench probe_throughput` for each count of BENCH_PROBE_DOMAINS (the sim in a process of its
# own, so the peak memory is the prober's), each FOLDED_RUNS times. Each bench prints a `RESULT
# name key=value ...` line; the tables give the median of the runs with their range (min-max).
#
# probe_postfix: `sendguard probe` of a domain with three MX hosts against posttls-finger on the
# same three real Postfix peers (server/tests/interop_postfix.rs bench_three_mx_hosts, pairs
# timed back to back). Needs root and Debian's nsd, unbound and postfix (installed here).

# result_stat and run_folded are bench.sh's.

section_probe() {
  local f="$WORK/probe_floor.results" n
  : >"$f"; : >"$WORK/probe_floor.out"
  run_folded probe_floor
  echo "## Probing one never-seen domain against the protocol's floor"
  echo
  echo "\`cargo bench -p sendguard --locked --bench probe_floor\`, $FOLDED_RUNS runs; each run probes"
  echo "5 never-seen DANE-EE domains with a fresh prober (cold resolver cache) and 5 more through"
  echo "the verdict service (probe, judgement, SQLite write with fsync), its figure the median of"
  echo "those 5. The simulated internet holds every reply of its DNS server and SMTP peers back"
  echo "for the round-trip time (no netem). The floor: MX, A + TLSA, TCP with greeting, EHLO,"
  echo "STARTTLS, TLS 1.3, EHLO = 7 round trips. Median of the runs (min-max):"
  echo
  echo "| RTT | floor | probe | probe / floor (goal ≤ 1.2) | round trips | DNS / SMTP replies | verdict | verdict / floor |"
  echo "|---|---|---|---|---|---|---|---|"
  echo "| $(result_stat "$f" rtt_ms %.0f) ms | $(result_stat "$f" floor_ms %.0f) ms" \
    "| $(result_stat "$f" probe_ms %.1f) ms | **$(result_stat "$f" probe_ratio %.2f)**" \
    "| $(result_stat "$f" probe_round_trips %.0f)" \
    "| $(result_stat "$f" probe_dns_replies %.0f) / $(result_stat "$f" probe_smtp_replies %.0f)" \
    "| $(result_stat "$f" verdict_ms %.1f) ms | $(result_stat "$f" verdict_ratio %.2f) |"
  echo
  echo "The last run's output, with the replies of its last probe one round trip a line:"
  echo
  echo '```'
  awk '/^probe_floor:/ { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' \
    "$WORK/probe_floor.out" | grep -v '^$'
  echo '```'
  echo
  f="$WORK/probe_throughput.results"
  : >"$f"; : >"$WORK/probe_throughput.out"
  for n in $PROBE_DOMAINS; do
    run_folded probe_throughput SENDGUARD_BENCH_DOMAINS="$n"
  done
  echo "## Probe throughput and the prober's memory (the sim in its own process)"
  echo
  echo "\`SENDGUARD_BENCH_DOMAINS=N cargo bench -p sendguard --locked --bench probe_throughput\`,"
  echo "$FOLDED_RUNS runs per N: 256 domains requested at a time, one MX host each (DANE-EE, DANE-TA,"
  echo "self-signed, no STARTTLS, wrong TLSA in turn), the simulated internet in a child process."
  echo "First through the verdict service (judgement and a SQLite transaction with fsync per"
  echo "verdict), then the bare probes with a fresh prober; the peak RSS (VmHWM) is the probing"
  echo "process's alone. CPU per domain, from /proc: the probing process + the sim process (the"
  echo "two share the machine's cores, so their sum bounds the rate). Median of the runs (min-max):"
  echo
  echo "| domains | verdicts/s (goal ≥ 500) | probes alone/s | judging + store share | CPU ms per verdict, prober + sim | CPU ms per bare probe, prober + sim | peak RSS, prober (goal < 200 MB) | peak RSS, sim process | sim setup |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for n in $PROBE_DOMAINS; do
    grep " domains=$n " "$f" >"$f.$n" || true
    echo "| $n | **$(result_stat "$f.$n" verdicts_per_s %.0f)** | $(result_stat "$f.$n" probes_per_s %.0f)" \
      "| $(result_stat "$f.$n" store_share_pct %.0f) %" \
      "| $(result_stat "$f.$n" verdict_cpu_ms %.2f) + $(result_stat "$f.$n" verdict_sim_cpu_ms %.2f)" \
      "| $(result_stat "$f.$n" probe_cpu_ms %.2f) + $(result_stat "$f.$n" probe_sim_cpu_ms %.2f)" \
      "| **$(result_stat "$f.$n" peak_mib %.1f) MiB**" \
      "| $(result_stat "$f.$n" sim_peak_mib %.1f) MiB | $(result_stat "$f.$n" setup_s %.2f) s |"
  done
  echo
  echo "Verdicts of every run (DANE ok, SSL ok, no SSL, SSL?, blocked):"
  echo
  echo '```'
  sed -nE 's/^RESULT probe_throughput domains=([0-9]+) .* dane_ok=([0-9]+) ssl_ok=([0-9]+) no_ssl=([0-9]+) unknown=([0-9]+) blocked=([0-9]+).*/\1 domains: \2 \3 \4 \5 \6/p' "$f"
  echo '```'
}

section_probe_postfix() {
  note "sendguard probe against posttls-finger on three real Postfix peers"
  echo "## Probing one domain with three MX hosts, against posttls-finger"
  echo
  if [ "$(id -u)" != 0 ]; then
    echo "(Not measured: needs root.)"
    return
  fi
  ensure_interop_packages >&2
  local out="$WORK/probe_postfix.out" f="$WORK/probe_postfix.results"
  SENDGUARD_BIN="$BIN" cargo test --release --locked -p sendguard --test interop_postfix -- \
    --ignored --exact bench_three_mx_hosts --nocapture >"$out" 2>"$WORK/probe_postfix.err" \
    || { tail -n 30 "$WORK/probe_postfix.err" >&2; echo "(failed)"; return; }
  grep '^RESULT' "$out" >"$f"
  echo "\`SENDGUARD_BIN=target/release/sendguard cargo test --release -p sendguard --test"
  echo "interop_postfix -- --ignored --exact bench_three_mx_hosts --nocapture\`: the domain"
  echo "\`three.test\` has three DANE-EE Postfix 3.7 peers, each greeting after one second, behind"
  echo "nsd and a validating unbound on loopback. \`sendguard probe --json three.test\` (release)"
  echo "against \`posttls-finger -c -a ipv4 -l dane\` run once per host, one after the other (it"
  echo "stops at the first MX host that answers), both in the same \`unshare -m\` wrapper; one"
  echo "warm-up each, then the pairs back to back, the order alternating. Median (min-max):"
  echo
  echo "| pairs | sendguard probe | posttls-finger mx1, mx2, mx3 | ratio (goal ≤ 0.5) |"
  echo "|---|---|---|---|"
  echo "| $(result_stat "$f" pairs %.0f) | $(result_stat "$f" sendguard_s %.3f) s" \
    "| $(result_stat "$f" finger_s %.3f) s | **$(result_stat "$f" ratio %.3f)** |"
  echo
  echo '```'
  grep '^pair ' "$out"
  echo '```'
}
