-- wrk script: POST one event per request (or a batch, with BATCH=N), and
-- print a JSON summary line. Body shaped like scenario 1, padded to PAYLOAD bytes.
local payload_bytes = tonumber(os.getenv("PAYLOAD") or "300")
local batch = tonumber(os.getenv("BATCH") or "0")
local topic = os.getenv("TOPIC") or "bench"

local function event()
  local head = '{"topic":"' .. topic .. '","key":"user-42","payload":{"user_id":42,"user_name":"kim","content":"'
  local tail = '"}}'
  local pad = math.max(1, payload_bytes - #head - #tail)
  return head .. string.rep("x", pad) .. tail
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if batch > 0 then
  local items = {}
  for i = 1, batch do items[i] = event() end
  wrk.path = "/v1/events:batch"
  wrk.body = '{"events":[' .. table.concat(items, ",") .. ']}'
else
  wrk.path = "/v1/events"
  wrk.body = event()
end

done = function(summary, latency, requests)
  local failed = summary.errors.status + summary.errors.connect + summary.errors.read +
                 summary.errors.write + summary.errors.timeout
  io.write(string.format(
    '{"requests":%d,"failed":%d,"seconds":%.3f,"p50_ms":%.3f,"p99_ms":%.3f}\n',
    summary.requests, failed, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
