-- put.lua — wrk script: PUT a body of SIZE bytes to a distinct key on every request.
--   wrk ... -s put.lua http://HOST:PORT -- PATH_PREFIX TAG [SIZE [KEYS]]
-- Key = PATH_PREFIX .. TAG .. "-" .. thread number .. "-" .. request counter, so keys never
-- repeat within a run (one thread's counter) nor across runs (TAG) nor threads. With KEYS,
-- the counter goes round KEYS values instead: large records then overwrite each other, and
-- the store stays at most KEYS records per thread.
local thread_no = 0

function setup(thread)
   thread_no = thread_no + 1
   thread:set("tid", thread_no)
end

function init(args)
   prefix = args[1] or "/"
   tag = args[2] or "r"
   body = string.rep("x", tonumber(args[3] or "1024"))
   keys = tonumber(args[4] or "0")
   wrk.headers["Content-Type"] = "application/octet-stream"
   counter = 0
end

function request()
   counter = counter + 1
   if keys > 0 and counter > keys then
      counter = 1
   end
   return wrk.format("PUT", prefix .. tag .. "-" .. tostring(tid) .. "-" .. counter, nil, body)
end

function done(summary, latency, requests)
   local s = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      "WRK rps=%.1f p50_us=%d p99_us=%d bytes_per_s=%.0f requests=%d sock_errors=%d non2xx=%d\n",
      summary.requests / s, latency:percentile(50), latency:percentile(99),
      summary.bytes / s, summary.requests,
      e.connect + e.read + e.write + e.timeout, e.status))
end
