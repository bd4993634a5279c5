-- GCRA in one round trip, on Redis's clock. KEYS[1]: the workspace's TAT (µs since the epoch).
-- ARGV: rate (records/s), burst, cost. Returns {allowed, remaining, retry_after_us, reset_us}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local interval = 1000000 / rate
local tolerance = interval * burst
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
local base = math.max(tat, now)
local new_tat = base + interval * cost
if new_tat - now <= tolerance or (cost > burst and tat <= now) then
  local ttl = math.ceil((new_tat - now) / 1000) + 1000
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl)
  local remaining = math.max(0, math.floor((tolerance - (new_tat - now)) / interval))
  return {1, remaining, 0, math.floor(new_tat - now)}
end
local wait
if cost <= burst then wait = (new_tat - tolerance) - now else wait = base - now end
local remaining = math.max(0, math.floor((tolerance - (base - now)) / interval))
return {0, remaining, math.ceil(wait), math.floor(base - now)}
