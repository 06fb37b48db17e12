-- Synced rate limits (src/limits/synced.rs): adds what one instance took
-- to each window and answers what every instance has used; publishes how
-- many concurrency slots the instance holds and answers what the others
-- hold. Windows are stored as in limits.lua (the same GCRA, the same
-- keys), so exact and synced instances count into the same windows.
--
-- KEYS: one per window or per scope's held-slots hash. ARGV: instance id,
-- slot lease ms (how long a count outlives an instance that stops
-- syncing), then one string of three integers per key: n (the limit; 0
-- for a held-slots hash), p (period ms), amount (cells taken since the
-- last sync, < 0 given back; or slots held now). Packed in one string, and
-- answered in one, because each separate value costs the gateway an
-- allocation and a parse, and a sync carries thousands.
-- Reply: a string of one integer per key: the window's used units after
-- the push (cells x p), or the slots the other instances hold.
local me, lease = ARGV[1], tonumber(ARGV[2])

local function window(key, n, p, amount)
  local used = math.max(used_now(key, n) + amount * p, 0)
  if amount ~= 0 then store(key, used, n) end
  return used
end

local function slots(key, held)
  if held > 0 then
    redis.call('HSET', key, me, string.format('%d:%.0f', held, now + lease))
    redis.call('PEXPIRE', key, lease)
  else
    redis.call('HDEL', key, me)
  end
  local others = 0
  local all = redis.call('HGETALL', key)
  for j = 1, #all, 2 do
    if all[j] ~= me then
      local count, till = string.match(all[j + 1], '^(%d+):(%d+)$')
      if count and tonumber(till) > now then
        others = others + tonumber(count)
      else
        redis.call('HDEL', key, all[j])
      end
    end
  end
  return others
end

local spec = {}
for v in string.gmatch(ARGV[3], '%-?%d+') do
  spec[#spec + 1] = tonumber(v)
end
local out = {}
for i, key in ipairs(KEYS) do
  local n, p, amount = spec[3 * i - 2], spec[3 * i - 1], spec[3 * i]
  local v
  if n == 0 then
    v = slots(key, amount)
  else
    v = window(key, n, p, amount)
  end
  out[i] = string.format('%.0f', v)
end
return table.concat(out, ' ')
