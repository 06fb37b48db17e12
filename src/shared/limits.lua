-- Rate-limit windows across instances: the GCRA of src/limits/gcra.rs, as
-- "used" cells (scaled by the period, so a cell is `p` units and 1 ms of
-- refill is `n` units) plus the time of the last update. The values stay
-- below n*p, so Lua's doubles hold them exactly for any realistic limit.
-- Time is the server's, so instances with skewed clocks agree.
--
-- KEYS: one per window or concurrency set. ARGV: mode ("admit", "peek" or
-- "finish"), tokens (or the token correction for "finish"), lease id,
-- lease ms, then one string of three values per key: kind ("r" requests,
-- "t" tokens, "c" concurrency), n (the limit), p (period ms). Packed in
-- one string, and answered in one, because each separate value costs the
-- gateway an allocation and a parse, in every request.
-- admit/peek reply: a string of integers: refused key index (0: none),
-- wait ms, then for each key remaining, reset ms, wait ms.
local mode, amount, lease, lease_ms = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local commit = mode == 'admit'

local specs = {}
for kind, n, p in string.gmatch(ARGV[5], '(%a) (%d+) (%d+)') do
  specs[#specs + 1] = {kind, tonumber(n), tonumber(p)}
end

local function spec(i)
  local s = specs[i]
  return s[1], s[2], s[3]
end

if mode == 'finish' then
  for i, key in ipairs(KEYS) do
    local kind, n, p = spec(i)
    if kind == 'c' then
      redis.call('ZREM', key, lease)
    elseif kind == 't' and amount ~= 0 then
      store(key, math.max(used_now(key, n) + amount * p, 0), n)
    end
  end
  return 0
end

local out = {0, 0}
local after = {}
for i, key in ipairs(KEYS) do
  local kind, n, p = spec(i)
  local remaining, reset, wait = 0, 0, 0
  if kind == 'c' then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    local held = redis.call('ZCARD', key)
    if commit and held >= n then wait = 1000 end
    remaining = math.max(n - held, 0)
  else
    local cost = 0
    if commit then
      if kind == 'r' then cost = 1 else cost = math.min(amount, n) end
    end
    local used = used_now(key, n)
    local cap = n * p
    if used + cost * p <= cap then
      used = used + cost * p
      after[i] = used
    else
      wait = math.ceil((used + cost * p - cap) / n)
    end
    remaining = math.floor(math.max(cap - used, 0) / p)
    reset = math.ceil(used / n)
  end
  if commit and wait > 0 and wait > out[2] then
    out[1], out[2] = i, wait
  end
  out[#out + 1] = remaining
  out[#out + 1] = reset
  out[#out + 1] = wait
end

if commit and out[1] == 0 then
  for i, key in ipairs(KEYS) do
    local kind, n, p = spec(i)
    if kind == 'c' then
      redis.call('ZADD', key, now + lease_ms, lease)
      redis.call('PEXPIRE', key, lease_ms)
    else
      store(key, after[i], n)
    end
  end
end
for i, v in ipairs(out) do
  out[i] = string.format('%.0f', v)
end
return table.concat(out, ' ')
