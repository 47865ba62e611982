-- wrk script of scripts/bench.sh's scale section (issue 15, item 6): POSTs ten addresses per
-- request to /api/recipients/security, signed in (BENCH_COOKIE, BENCH_CSRF), at the domains of
-- server/benches/store_scale.rs (scale-NNNNNN.example, BENCH_SCALE_DOMAINS of them). The
-- recently used domains are every BENCH_SCALE_STEP-th (index a multiple of it).
--
-- BENCH_SCALE_PICK=hot: ten recently used domains at random per request (seeded per thread).
-- BENCH_SCALE_PICK=cold: the other domains in order from the BENCH_SCALE_START-th of them, none
-- asked twice in a run (one thread); the run stops after BENCH_SCALE_REQUESTS requests, so that
-- the bench knows which were used and the next run starts after them. wrk then divides by the
-- whole duration (-d), so a cold run's rate is BENCH_SCALE_CONNECTIONS over the mean latency
-- (Little's law: every connection has one request out at all times).
-- Prints one machine-readable RESULT line, as verdict_post.lua does.
local domains = tonumber(os.getenv("BENCH_SCALE_DOMAINS") or "100000")
local step = tonumber(os.getenv("BENCH_SCALE_STEP") or "10")
local pick = os.getenv("BENCH_SCALE_PICK") or "hot"
local cold = tonumber(os.getenv("BENCH_SCALE_START") or "0")
local limit = tonumber(os.getenv("BENCH_SCALE_REQUESTS") or "0")
local connections = tonumber(os.getenv("BENCH_SCALE_CONNECTIONS") or "1")
local hot = math.floor((domains + step - 1) / step)
local threads = 0
local answered = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
wrk.headers["x-csrf-token"] = os.getenv("BENCH_CSRF")

function setup(thread)
  thread:set("number", threads)
  threads = threads + 1
end

function init(args)
  math.randomseed(7919 * ((number or 0) + 1))
end

local function address(i)
  return string.format('"u@scale-%06d.example"', i)
end

-- The index of the k-th domain that is not recently used.
local function cold_index(k)
  return math.floor(k / (step - 1)) * step + 1 + k % (step - 1)
end

function request()
  local list = {}
  for n = 1, 10 do
    if pick == "cold" then
      list[n] = address(cold_index(cold))
      cold = cold + 1
    else
      list[n] = address(math.random(0, hot - 1) * step)
    end
  end
  return wrk.format(nil, nil, nil, '{"addresses":[' .. table.concat(list, ",") .. ']}')
end

if limit > 0 then
  function response(status, headers, body)
    answered = answered + 1
    if answered >= limit then
      wrk.thread:stop()
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local rps = summary.requests / (summary.duration / 1e6)
  if limit > 0 then
    rps = connections / (latency.mean / 1e6)
  end
  io.write(string.format(
    "RESULT rps=%.1f p50_us=%d p99_us=%d requests=%d non2xx=%d socket_errors=%d\n",
    rps, latency:percentile(50), latency:percentile(99),
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
