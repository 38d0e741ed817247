-- wrk script for bench/bruco/run.py: every request POSTs the JSON body in $BRUCO_BODY; at the end, one JSON line
-- with the counts and the latency distribution (microseconds) for run.py to read.
wrk.method = "POST"
wrk.body = os.getenv("BRUCO_BODY")
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, '
    .. '"non_2xx": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
