-- Shared by limits.lua and synced.lua (prepended to each): the server's
-- time, and a GCRA window's used units as both scripts store them (a hash
-- of `u`, used units, and `t`, when they were last written).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- The window's used units now, after refill.
local function used_now(key, n)
  local v = redis.call('HMGET', key, 'u', 't')
  if not v[1] then return 0 end
  local u = tonumber(v[1]) - (now - tonumber(v[2])) * n
  if u < 0 then return 0 end
  return u
end

local function store(key, used, n)
  if used <= 0 then
    redis.call('DEL', key)
    return
  end
  redis.call('HSET', key, 'u', string.format('%.0f', used), 't', now)
  redis.call('PEXPIRE', key, math.ceil(used / n) + 1000)
end

