-- Budget windows across instances: one counter per (user, scope, window),
-- in nano-dollars spent or reserved, keyed by the window's id so a new
-- day or month starts a new key. Checking and reserving in every window
-- of a request is one script, so instances together never reserve past a
-- limit.
--
-- KEYS: one per window. ARGV: mode ("admit", "peek", "settle", "seed"),
-- amount (the reservation, the correction for "settle"), then for each
-- key: limit, ttl ms (until the window ends, plus a day).
-- admit/peek reply: refused key index (0: none), then each key's count
-- before this request. For "seed", ARGV after the mode is (value, ttl) per
-- key, set only where no instance holds the key yet.
local mode = ARGV[1]

if mode == 'seed' then
  for i, key in ipairs(KEYS) do
    local value, ttl = ARGV[2 * i], ARGV[2 * i + 1]
    redis.call('SET', key, value, 'NX', 'PX', ttl)
  end
  return 0
end

local amount = tonumber(ARGV[2])
if mode == 'settle' then
  for _, key in ipairs(KEYS) do
    if redis.call('EXISTS', key) == 1 then
      local left = redis.call('INCRBY', key, amount)
      if left < 0 then redis.call('SET', key, 0, 'KEEPTTL') end
    end
  end
  return 0
end

local out = {0}
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[1 + 2 * i])
  local used = tonumber(redis.call('GET', key) or '0')
  if mode == 'admit' and out[1] == 0 and used + amount > limit then
    out[1] = i
  end
  out[#out + 1] = used
end
if mode == 'admit' and out[1] == 0 then
  for i, key in ipairs(KEYS) do
    redis.call('INCRBY', key, amount)
    redis.call('PEXPIRE', key, ARGV[2 + 2 * i])
  end
end
return out
