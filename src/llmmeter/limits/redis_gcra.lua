-- GCRA in one round trip, on Redis's clock. KEYS[1]: the workspace's TAT (µs since the epoch).
-- ARGV: rate (records/s), burst, cost, debt, lease.
--   debt > 0: records a worker admitted on its own while Redis was out, charged first whatever
--   the decision; debt < 0: leased records a worker hands back unused.
--   lease: records the worker would like to take in advance (granted only as far as they fit
--   after the cost; never when the cost is refused).
-- Returns {allowed, remaining, retry_us, reset_us, leased}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local debt = tonumber(ARGV[4])
local lease = tonumber(ARGV[5] or '0')
local interval = 1000000 / rate
local tolerance = interval * burst
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if debt > 0 then
  tat = math.max(tat, now) + interval * debt
elseif debt < 0 then
  tat = math.max(now, tat + interval * debt)
end
local function store(value)
  local ttl = math.max(1, math.ceil((value - now) / 1000)) + 1000
  redis.call('SET', KEYS[1], string.format('%.0f', value), 'PX', ttl)
end
local base = math.max(tat, now)
local new_tat = base + interval * cost
-- 1 µs of slack: float rounding must not refuse a client paced exactly at the rate.
if new_tat - now <= tolerance + 1 or (cost > burst and tat <= now) then
  local leased = 0
  if lease > 0 then
    local room = math.floor((tolerance + 1 - (new_tat - now)) / interval)
    leased = math.max(0, math.min(lease, room))
    new_tat = new_tat + interval * leased
  end
  store(new_tat)
  local remaining = math.max(0, math.floor((tolerance - (new_tat - now)) / interval))
  return {1, remaining, 0, math.floor(new_tat - now), leased}
end
if debt ~= 0 then store(tat) end
local wait
if cost <= burst then wait = (new_tat - tolerance) - now else wait = base - now end
local remaining = math.max(0, math.floor((tolerance - (base - now)) / interval))
return {0, remaining, math.ceil(wait), math.floor(base - now), 0}
