-- wrk script of scripts/bench.sh (issue 15): POST the body in $BENCH_BODY_FILE with the session
-- cookie and CSRF token of a signed-in user, and print one machine-readable RESULT line.
-- The same script drives the trivial handler, which ignores the headers.
-- BENCH_METHOD=GET sends a GET without a body instead (bench.sh's breakdown of a request).
wrk.method = os.getenv("BENCH_METHOD") or "POST"
if wrk.method == "POST" then
  local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
  wrk.body = f:read("*a")
  f:close()
end
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
wrk.headers["x-csrf-token"] = os.getenv("BENCH_CSRF")

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT rps=%.1f p50_us=%d p99_us=%d requests=%d non2xx=%d socket_errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
