-- One arrival at a join, decided exactly once.
--
-- KEYS[1]  hash "{prefix}join:{run_id}:step_id" with fields
--            a:<predecessor>  1 (taken) or 0 (skipped), one field per distinct predecessor
--            n                number of distinct predecessors arrived
--            t                number of them that were taken
--            by               the predecessor whose arrival decided the join
--            d                the decision: "run" or "skip"
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
