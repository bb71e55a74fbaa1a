-- wrk script of the ingest benchmark (bench/ingest.py runs it).
--
--   wrk -t2 -c32 -d15s -s bench/wrk/post.lua http://127.0.0.1:PORT/webhooks/jira \
--       -- BODY_FILE SIGNATURE PREFIX
--
-- Every request POSTs the same pre-signed body (BODY_FILE, header X-Hub-Signature:
-- SIGNATURE) with a unique X-Atlassian-Webhook-Identifier "PREFIX-<thread>-<counter>", so
-- the receiver's dedupe never drops one. done() prints one line that bench/ingest.py parses:
--
--   WRK_RESULT {"requests":..,"sent":..,"ok_200":..,"non_2xx":..,"rps":..,"p50_us":..,...}

local threads = {}
local next_tid = 1

function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
   table.insert(threads, thread)
end

function init(args)
   local f = assert(io.open(args[1], "rb"))
   body = f:read("*a")
   f:close()
   prefix = args[3] or "bench"
   headers = {
      ["Content-Type"] = "application/json",
      ["X-Hub-Signature"] = args[2],
   }
   path = wrk.path
   sent, ok_200, non_2xx = 0, 0, 0
end

function request()
   sent = sent + 1
   headers["X-Atlassian-Webhook-Identifier"] = prefix .. "-" .. tid .. "-" .. sent
   return wrk.format("POST", path, headers, body)
end

function response(status, _headers, _body)
   if status == 200 then
      ok_200 = ok_200 + 1
   end
   if status < 200 or status > 299 then
      non_2xx = non_2xx + 1
   end
end

function done(summary, latency, requests)
   local sent_all, ok_all, bad_all = 0, 0, 0
   for _, t in ipairs(threads) do
      sent_all = sent_all + t:get("sent")
      ok_all = ok_all + t:get("ok_200")
      bad_all = bad_all + t:get("non_2xx")
   end
   local e = summary.errors
   local seconds = summary.duration / 1e6
   io.write(string.format(
      'WRK_RESULT {"requests":%d,"sent":%d,"ok_200":%d,"non_2xx":%d,"duration_s":%.3f,' ..
      '"rps":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}}\n',
      summary.requests, sent_all, ok_all, bad_all, seconds,
      summary.requests / seconds, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean,
      e.connect, e.read, e.write, e.timeout, e.status))
end
