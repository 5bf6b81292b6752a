-- wrk script for the benchmark (tests/benchmarks/bench_pages.py): after the run, one line
-- "BENCH {json}" with the throughput, latency percentiles (ms), bytes and error counts.
-- The Cookie header (a signed-in session) is given with wrk's -H option.

done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "seconds": %.3f, "bytes": %d, "p50": %.2f, "p95": %.2f, "p99": %.2f, ' ..
    '"max": %.2f, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, seconds, summary.bytes,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, errors.connect, errors.read, errors.write, errors.status, errors.timeout))
end
