-- wrk script: POST one Opsmeter-style record per request, each with a distinct externalRequestId.
local counter = 0
local prefix = string.format("%x%x", os.time(), math.random(0, 0xffffff))
local key = os.getenv("LLMMETER_BENCH_KEY")

function setup(thread)
  thread:set("tid", tostring(math.random(0, 0xffffffff)))
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"externalRequestId":"b-%s-%s-%d","provider":"openai","model":"gpt-4o-mini",' ..
    '"promptVersion":"v3","endpointTag":"checkout.summary","inputTokens":120,"outputTokens":45,' ..
    '"latencyMs":820,"status":"success","userId":"u_%d","metadata":{"tenantId":"acme"}}',
    prefix, tid, counter, counter % 97)
  return wrk.format("POST", "/v1/ingest/llm-request",
    {["Content-Type"] = "application/json", ["X-API-Key"] = key}, body)
end

local non2xx = 0
function response(status, headers, body)
  if status ~= 200 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  io.write(string.format("RESULT req_per_s=%.1f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx_status=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
