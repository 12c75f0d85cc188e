-- wrk script of the ingest benchmark (bench/ingest_throughput.py runs it; see docs/performance.md).
--
-- Each wrk thread sends the pre-built requests of its own file, REPLAYDESK_WRK_REQUESTS/thread-N.bin
-- (N from 1), once each and in file order: records of "<path> <length>\n<gzip body>". The headers
-- (Content-Type, Content-Encoding, the ingest key) come from wrk's -H options. A thread that runs
-- out sends GET /health instead and counts it: the round is then invalid, never a repeat. With
-- REPLAYDESK_WRK_WRAP=1 (the baseline, which stores nothing and looks at no ID) it starts its
-- file again instead, and counts that.
-- Every answer is counted by status; a 202's body names the batch (ReplayDesk's ack), kept to
-- check afterwards that every acknowledged batch is stored. done() writes one JSON object to
-- REPLAYDESK_WRK_RESULT.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads)
end

local data, pos, head, health, wrap
-- wrk asks thread 1 for one request before the run, to check that it parses; that one is
-- handed out again (the first real request), so that no batch is skipped.
local checked

function init(args)
   local name = os.getenv("REPLAYDESK_WRK_REQUESTS") .. "/thread-" .. id .. ".bin"
   local file = assert(io.open(name, "rb"))
   data = file:read("*a")
   file:close()
   pos = 1
   wrap = os.getenv("REPLAYDESK_WRK_WRAP") == "1"
   checked = id ~= 1
   local lines = {}
   for name, value in pairs(wrk.headers) do
      lines[#lines + 1] = name .. ": " .. value .. "\r\n"
   end
   head = table.concat(lines)
   -- wrk.init has set Host (as "Host", or "host" in wrk versions whose header table folds case).
   local host = wrk.headers["Host"] or wrk.headers["host"]
   health = "GET /health HTTP/1.1\r\nHost: " .. host .. "\r\n\r\n"
   statuses, acked, accepted, duplicates, exhausted, wrapped = {}, {}, 0, 0, 0, 0
end

function request()
   local from, to, path, length = data:find("^(%S+) (%d+)\n", pos)
   if not from and wrap and pos > 1 then
      wrapped = wrapped + 1
      pos = 1
      from, to, path, length = data:find("^(%S+) (%d+)\n", pos)
   end
   if not from then
      exhausted = exhausted + 1
      return health
   end
   length = tonumber(length)
   local body = data:sub(to + 1, to + length)
   if checked then
      pos = to + length + 1
   else
      checked = true
   end
   return "POST " .. path .. " HTTP/1.1\r\n" .. head .. "Content-Length: " .. length
      .. "\r\n\r\n" .. body
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status ~= 202 then
      return
   end
   local session, seq, outcome = body:match('"session_id":"([^"]*)","seq":(%d+),"status":"(%a+)"')
   if outcome == "accepted" then
      accepted = accepted + 1
      -- The baseline answers every batch as session "-": nothing of it to look up afterwards.
      if session ~= "-" then
         acked[#acked + 1] = session .. " " .. seq
      end
   elseif outcome == "duplicate" then
      duplicates = duplicates + 1
   end
end

local function json_string(text)
   return '"' .. text:gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", c:byte())
   end) .. '"'
end

function done(summary, latency, requests)
   local totals = { accepted = 0, duplicates = 0, exhausted = 0, wrapped = 0 }
   local statuses_all, acked_all = {}, {}
   for _, thread in ipairs(threads) do
      for key in pairs(totals) do
         totals[key] = totals[key] + (thread:get(key) or 0)
      end
      for status, count in pairs(thread:get("statuses") or {}) do
         statuses_all[status] = (statuses_all[status] or 0) + count
      end
      for _, batch in ipairs(thread:get("acked") or {}) do
         acked_all[#acked_all + 1] = json_string(batch)
      end
   end
   local status_parts = {}
   for status, count in pairs(statuses_all) do
      status_parts[#status_parts + 1] = string.format('"%d":%d', status, count)
   end
   local errors = summary.errors
   -- No answer at all leaves the mean undefined (NaN), which JSON cannot hold.
   local mean = latency.mean
   if mean ~= mean then
      mean = 0
   end
   local out = assert(io.open(os.getenv("REPLAYDESK_WRK_RESULT"), "wb"))
   out:write(string.format(
      '{"duration_us":%d,"requests":%d,"bytes":%d,'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
         .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f},'
         .. '"accepted":%d,"duplicates":%d,"exhausted":%d,"wrapped":%d,"statuses":{%s},'
         .. '"acked":[%s]}',
      summary.duration, summary.requests, summary.bytes,
      errors.connect, errors.read, errors.write, errors.status, errors.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max, mean,
      totals.accepted, totals.duplicates, totals.exhausted, totals.wrapped,
      table.concat(status_parts, ","), table.concat(acked_all, ",")
   ))
   out:close()
end
