-- One arrival at a join, decided exactly once.
--
-- Key layout (keys.py; every key is prefixed, run id as hash tag, with a TTL):
-- KEYS[1]  hash "<prefix>join:{<run_id>}:<step_id>", one per join, with fields
--            a:<predecessor>  1 (taken) or 0 (skipped), one field per distinct predecessor
--            n                number of distinct predecessors arrived
--            t                number of them that were taken
--            by               the predecessor whose arrival decided the join
--            d                the decision: "run" or "skip"
-- KEYS[2]  set "<prefix>run:{<run_id>}" of the run's keys (forget_run deletes them)
-- ARGV     predecessor, taken (1|0), expected, mode ("all"|"any"), ttl seconds
-- Returns  "run", "skip" or "wait". A repeated arrival of the deciding predecessor
--          gets the decision again (so a redelivered job re-drives its successor);
--          any other repeat, or any arrival after the decision, gets "wait".
local key = KEYS[1]
local pred, taken = ARGV[1], tonumber(ARGV[2])
local expected, mode, ttl = tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])

local added = redis.call('HSETNX', key, 'a:' .. pred, taken)
local by = redis.call('HGET', key, 'by')
if added == 0 then
  if by == pred then
    return redis.call('HGET', key, 'd')
  end
  return 'wait'
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
end
if by then
  return 'wait'
end
local decision = 'wait'
if mode == 'any' and taken == 1 then
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
return decision
