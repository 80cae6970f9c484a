-- One arrival at a join, decided exactly once (the rule of legato.runtime.joins).
--
-- Key layout (keys.py; every key is prefixed, run id as hash tag, with a TTL):
-- KEYS[1]  hash "<prefix>join:{<run_id>}:<step_id>", one per join, with fields
--            a:<predecessor>  1 (taken) or 0 (skipped), one field per distinct predecessor
--            n                number of distinct predecessors arrived
--            t                number of them that were taken
--            w                count joins: the taken predecessors before the decision,
--                             in arrival order, separated by "\n" (ids hold no "\n")
--            by               the predecessor whose arrival decided the join
--            d                the decision: "run" or "skip"
-- KEYS[2]  set "<prefix>run:{<run_id>}" of the run's keys (forget_run deletes them)
-- ARGV     predecessor, taken (1|0), expected, mode ("all"|"any"|"count"), ttl seconds,
--          count (the N of a count join; 0 otherwise)
-- Returns  {decision, joined}: decision "run", "skip" or "wait"; joined is field w
--          when a count join runs, else "". A repeated arrival of the deciding
--          predecessor gets the decision again (so a redelivered job re-drives its
--          successor); any other repeat, or any arrival after the decision, gets "wait".
local key = KEYS[1]
local pred, taken = ARGV[1], tonumber(ARGV[2])
local expected, mode, ttl = tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local count = tonumber(ARGV[6] or '0')

local function result(decision)
  if decision == 'run' and mode == 'count' then
    return {decision, redis.call('HGET', key, 'w') or ''}
  end
  return {decision, ''}
end

local added = redis.call('HSETNX', key, 'a:' .. pred, taken)
local by = redis.call('HGET', key, 'by')
if added == 0 then
  -- A repeat decides nothing new: whatever it could decide, its first arrival did.
  if by == pred then
    return result(redis.call('HGET', key, 'd'))
  end
  return {'wait', ''}
end
redis.call('EXPIRE', key, ttl)
local n = redis.call('HINCRBY', key, 'n', 1)
if n == 1 then
  redis.call('SADD', KEYS[2], key)
  redis.call('EXPIRE', KEYS[2], ttl)
end
local t = tonumber(redis.call('HGET', key, 't') or '0')
if taken == 1 then
  t = redis.call('HINCRBY', key, 't', 1)
  if mode == 'count' and not by then
    local w = redis.call('HGET', key, 'w')
    redis.call('HSET', key, 'w', w and (w .. '\n' .. pred) or pred)
  end
end
if by then
  return {'wait', ''}
end
local decision = 'wait'
if mode == 'count' then
  if t >= count then
    decision = 'run'
  elseif n - t > expected - count then
    decision = 'skip'
  end
elseif mode == 'any' and taken == 1 then
  decision = 'run'
elseif n >= expected then
  if mode == 'all' and t > 0 then
    decision = 'run'
  else
    decision = 'skip'
  end
end
if decision ~= 'wait' then
  redis.call('HSET', key, 'by', pred, 'd', decision)
end
return result(decision)
