-- wrk script: POST batches of BATCH_SIZE records (distinct externalRequestIds) per request.
local counter = 0
local prefix = string.format("%x%x", os.time(), math.random(0, 0xffffff))
local key = os.getenv("LLMMETER_BENCH_KEY")
local size = tonumber(os.getenv("BATCH_SIZE") or "100")

function setup(thread)
  thread:set("tid", tostring(math.random(0, 0xffffffff)))
end

function request()
  local items = {}
  for i = 1, size do
    counter = counter + 1
    items[i] = string.format(
      '{"externalRequestId":"bb-%s-%s-%d","provider":"openai","model":"gpt-4o-mini",' ..
      '"promptVersion":"v3","endpointTag":"checkout.summary","inputTokens":120,"outputTokens":45,' ..
      '"latencyMs":820,"status":"success","userId":"u_%d","metadata":{"tenantId":"acme"}}',
      prefix, tid, counter, counter % 97)
  end
  return wrk.format("POST", "/v1/ingest/llm-requests",
    {["Content-Type"] = "application/json", ["X-API-Key"] = key},
    '{"requests":[' .. table.concat(items, ",") .. ']}')
end

-- Only answered batches count (errors.status = non-2xx answers, which stored nothing).
function done(summary, latency, requests)
  io.write(string.format("RESULT records_per_s=%.0f req_per_s=%.1f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx_status=%d\n",
    size * (summary.requests - summary.errors.status) / (summary.duration / 1e6), summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
