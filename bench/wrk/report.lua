-- The one line every strata wrk run prints when it ends; bench/http_bench.py
-- parses it. Latencies in microseconds, as wrk measures them. "status" is
-- wrk's count of responses with a status of 400 or more; connect, read,
-- write and timeout are socket errors.
local M = {}

function M.done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "strata-wrk requests=%d duration_us=%d p50_us=%d p99_us=%d " ..
        "mean_us=%.1f status=%d connect=%d read=%d write=%d timeout=%d\n",
        summary.requests, summary.duration,
        latency:percentile(50), latency:percentile(99), latency.mean,
        e.status, e.connect, e.read, e.write, e.timeout))
end

return M
