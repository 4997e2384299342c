-- Shared by every scenario script: JSON request headers and the one result line run.sh reads.
--
-- Every script is called as `wrk ... -s SCRIPT URL -- ORIGIN [more args]`; ORIGIN is the server's own origin,
-- sent as `Origin` exactly as a page on that origin would send it.

common = {}

-- Adds the request headers to `wrk.headers` in place: wrk's own `Host` header lives there too.
function common.headers(origin, extra)
   local h = wrk.headers
   h["Origin"] = origin
   h["Accept"] = "application/json"
   for k, v in pairs(extra or {}) do
      h[k] = v
   end
   return h
end

-- Escapes a string for a JSON string literal (the values here are plain ASCII; this only guards quotes).
function common.json_string(s)
   return '"' .. s:gsub('\\', '\\\\'):gsub('"', '\\"') .. '"'
end

-- One machine-readable line for run.sh: throughput, latency percentiles (microseconds) and every error wrk counts
-- (status = responses >= 400).
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d duration_us=%d rps=%.2f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
      "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.status, e.timeout))
end
