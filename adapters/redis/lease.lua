-- Step leases with fencing tokens.
--
-- KEYS[1]  string "{prefix}lease:{run_id}:step_id" = "<owner>|<token>", expiring with the lease
-- KEYS[2]  counter "{prefix}fence:{run_id}:step_id": the last token handed out
-- KEYS[3]  set "{prefix}run:{run_id}" of the run's keys (forget_run deletes them)
-- ARGV     op ("acquire"|"renew"|"release"), owner, token, ttl milliseconds, fence ttl seconds
-- acquire  returns a new token (INCR of the counter), or false if another owner holds it
-- renew    returns 1 if the token is still the last one handed out (the lease is extended)
-- release  deletes the lease if it still carries the token; returns 1 if it did
local op, owner, token = ARGV[1], ARGV[2], ARGV[3]
local ttl, fence_ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local held = redis.call('GET', KEYS[1])
if op == 'acquire' then
  if held then
    local holder = string.match(held, '^(.*)|')
    if holder ~= owner then
      return false
    end
  end
  local new = redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], fence_ttl)
  if new == 1 then
    redis.call('SADD', KEYS[3], KEYS[2])
    redis.call('EXPIRE', KEYS[3], fence_ttl)
  end
  redis.call('SET', KEYS[1], owner .. '|' .. new, 'PX', ttl)
  return new
elseif op == 'renew' then
  if redis.call('GET', KEYS[2]) ~= token then
    return 0
  end
  local holder = held and string.match(held, '^(.*)|') or owner
  redis.call('SET', KEYS[1], holder .. '|' .. token, 'PX', ttl)
  return 1
else
  if held and string.match(held, '|(%d+)$') == token then
    redis.call('DEL', KEYS[1])
    return 1
  end
  return 0
end
