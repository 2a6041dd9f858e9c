-- get.lua — wrk script for a fixed GET (the URL and headers come from the command line).
-- Only adds the machine-readable summary line that bench/run.sh parses.
function done(summary, latency, requests)
   local s = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      "WRK rps=%.1f p50_us=%d p99_us=%d bytes_per_s=%.0f requests=%d sock_errors=%d non2xx=%d\n",
      summary.requests / s, latency:percentile(50), latency:percentile(99),
      summary.bytes / s, summary.requests,
      e.connect + e.read + e.write + e.timeout, e.status))
end
