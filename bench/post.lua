-- wrk script: POST the body in $BENCH_BODY with the key in $BENCH_KEY (sent as Bearer, or as
-- x-api-key / x-goog-api-key when $BENCH_KEY_HEADER names one), then print one machine-readable
-- line: requests, duration (µs), non-2xx count, socket errors, p50/p99 latency (µs).
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_KEY")
local header = os.getenv("BENCH_KEY_HEADER")
if key and key ~= "" then
  if header and header ~= "" then
    wrk.headers[header] = key
  else
    wrk.headers["Authorization"] = "Bearer " .. key
  end
end
local extra = os.getenv("BENCH_EXTRA_HEADER")
if extra and extra ~= "" then
  local name, value = extra:match("^([^:]+):%s*(.*)$")
  wrk.headers[name] = value
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests=%d duration_us=%d non2xx=%d sockerr=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
