-- Step leases with fencing tokens.
--
-- KEYS[1]  string "{prefix}lease:{run_id}:step_id" = "<owner>|<token>", expiring with the lease
-- KEYS[2]  counter "{prefix}fence:{run_id}:step_id": the last token handed out
-- KEYS[3]  set "{prefix}run:{run_id}" of the run's keys (forget_run deletes them)
-- KEYS[4]  string "{prefix}born": when this generation of Legato's data began (Redis
--          milliseconds), set by the first operation that finds a counter missing
-- ARGV     op ("acquire"|"renew"|"release"), owner, token, ttl milliseconds, fence ttl
--          seconds, unclaimed ("1": the caller read that the step was never claimed)
-- acquire  returns {token, 0, 0}: a new token; {0, ms, 0}: another owner holds the
--          lease for ms more milliseconds; or {0, ms, 1}: grace, the step's counter is
--          missing and the data began less than a lease ago, so a worker that ran the
--          step before the data was lost may still hold it and re-establish it by
--          renewing within the ms left of the grace (unless the step was never claimed)
-- renew    returns 1 if the token is still the last one handed out (the lease is
--          extended), or if the counter is gone (Redis lost its data) and so nobody
--          took the step since: the lease is re-established with the token; else 0
-- release  deletes the lease if it still carries the token; returns 1 if it did
--
-- A counter that does not exist starts from Redis' clock (milliseconds * 1024), so
-- tokens handed out after Redis lost its data are greater than every token handed
-- out before (unless 1024 acquisitions of one step happened per millisecond since
-- the counter was first made, or the server's clock went back).
local op, owner, token = ARGV[1], ARGV[2], ARGV[3]
local ttl, fence_ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local held = redis.call('GET', KEYS[1])

local function remember(key)
  redis.call('SADD', KEYS[3], key)
  redis.call('EXPIRE', KEYS[3], fence_ttl)
end

local function now_ms()
  local now = redis.call('TIME')
  return tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
end

-- Milliseconds since the data began (0 when it begins now).
local function age(ms)
  local born = redis.call('GET', KEYS[4])
  if not born then
    redis.call('SET', KEYS[4], string.format('%d', ms))
    return 0
  end
  return ms - tonumber(born)
end

if op == 'acquire' then
  if held then
    local holder = string.match(held, '^(.*)|')
    if holder ~= owner then
      return {0, redis.call('PTTL', KEYS[1]), 0}
    end
  end
  if redis.call('EXISTS', KEYS[2]) == 0 then
    local ms = now_ms()
    local since = age(ms)
    if since < ttl and ARGV[6] ~= '1' then
      return {0, ttl - since, 1}
    end
    redis.call('SET', KEYS[2], string.format('%d', ms * 1024))
    remember(KEYS[2])
  end
  local new = redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], fence_ttl)
  -- '%d': Lua would write a number this large as 1.8e+15
  redis.call('SET', KEYS[1], owner .. '|' .. string.format('%d', new), 'PX', ttl)
  return {new, 0, 0}
elseif op == 'renew' then
  local current = redis.call('GET', KEYS[2])
  if not current then
    age(now_ms())
    redis.call('SET', KEYS[2], token, 'EX', fence_ttl)
    remember(KEYS[2])
    redis.call('SET', KEYS[1], 'reclaimed|' .. token, 'PX', ttl)
    return 1
  end
  if current ~= token then
    return 0
  end
  local holder = held and string.match(held, '^(.*)|') or 'renewed'
  redis.call('SET', KEYS[1], holder .. '|' .. token, 'PX', ttl)
  return 1
else
  if held and string.match(held, '|(%d+)$') == token then
    redis.call('DEL', KEYS[1])
    return 1
  end
  return 0
end
