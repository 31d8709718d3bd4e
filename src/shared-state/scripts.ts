/**
 * The Lua scripts of the shared store: each decision is one script, run atomically by Redis
 * on its own clock (`TIME`). Keys of one decision share one hash tag, so the scripts run
 * unchanged on Redis Cluster and Valkey (every switchyard key of a deployment lives in one
 * slot: the state is small, atomicity across budgets and windows matters more than sharding).
 *
 * Amounts are integer nano-USD; Lua numbers are doubles, exact up to 2^53 (9 million USD).
 * GCRA windows keep the theoretical arrival time `tat` in ms, as machines/gcra.ts does.
 */

import { MAX_UPSTREAM_WAIT_MS } from '../upstream/rate-headers.js';

/** Server time in ms (`TIME` is seconds + microseconds). */
const NOW = `local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** GCRA check: returns the tat after consuming, or nil and the time `cost` would fit. */
const GCRA = `
local function n(x) return string.format('%.17g', x) end
local function gcra(key, now, cost, limit, period)
  if limit <= 0 then return now, nil end
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local c = math.min(cost, limit)
  local after = tat + c * period / limit
  if after - now > period then return nil, after - period end
  return tat + cost * period / limit, nil
end`;

/**
 * reserve: KEYS = epoch, reservation, owned set, rpm, tpm, cooldown, probe, key-rpm, key-once, budget keys…
 * ARGV = owner, amount, rpm, tpm, tokens, probeMs, keyRpm, periodMs, row (JSON for a reclaim), budget limits…, track ('1': keep the reservation though no budget applies)
 * Replies: {'empty'} | {'late', state} | {'seed', i} | {'wait', at, why, now[, probe holder]} | {'keyrpm', at}
 *        | {'refused', i, limit, spent, reserved} | {'ok', now, spent1, reserved1, …}
 */
export const RESERVE = `${GCRA}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'empty'} end
local state = redis.call('HGET', KEYS[2], 'state')
if state then
  if state == 'reserved' then return {'ok', '0'} end
  return {'late', state}
end
local nb = #KEYS - 9
for i = 1, nb do
  if redis.call('HGET', KEYS[9 + i], 'seeded') ~= '1' then return {'seed', n(i)} end
end
${NOW}
local amount = tonumber(ARGV[2])
local period = tonumber(ARGV[8])
local cd = tonumber(redis.call('GET', KEYS[6]) or '0')
if cd > now + ${MAX_UPSTREAM_WAIT_MS} then
  -- A cooldown longer than any upstream wait is honoured (written by an older replica, or by hand): clamped to the longest, for every replica.
  cd = now + ${MAX_UPSTREAM_WAIT_MS}
  redis.call('SET', KEYS[6], n(cd), 'PX', ${MAX_UPSTREAM_WAIT_MS})
end
if cd > now then return {'wait', n(cd), 'cooldown', n(now)} end
local probeMs = tonumber(ARGV[6])
if probeMs > 0 and redis.call('EXISTS', KEYS[7]) == 1 then
  return {'wait', n(now + math.max(1, redis.call('PTTL', KEYS[7]))), 'probe', n(now), redis.call('GET', KEYS[7])}
end
local rpmTat, rpmAt = gcra(KEYS[4], now, 1, tonumber(ARGV[3]), period)
if not rpmTat then return {'wait', n(math.ceil(rpmAt)), 'rpm', n(now)} end
local tpmTat, tpmAt = gcra(KEYS[5], now, tonumber(ARGV[5]), tonumber(ARGV[4]), period)
if not tpmTat then return {'wait', n(math.ceil(tpmAt)), 'tpm', n(now)} end
local keyRpm = tonumber(ARGV[7])
local keyTat = nil
if keyRpm > 0 and redis.call('EXISTS', KEYS[9]) == 0 then
  local kat
  keyTat, kat = gcra(KEYS[8], now, 1, keyRpm, period)
  if not keyTat then return {'keyrpm', n(math.ceil(kat))} end
end
local spent, reserved = {}, {}
for i = 1, nb do
  spent[i] = tonumber(redis.call('HGET', KEYS[9 + i], 'spent') or '0')
  reserved[i] = tonumber(redis.call('HGET', KEYS[9 + i], 'reserved') or '0')
  local limit = tonumber(ARGV[9 + i])
  if spent[i] + reserved[i] + amount > limit then
    return {'refused', n(i), n(limit), n(spent[i]), n(reserved[i])}
  end
end
if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[4], n(rpmTat), 'PX', math.ceil(rpmTat - now) + 1000) end
if tonumber(ARGV[4]) > 0 then redis.call('SET', KEYS[5], n(tpmTat), 'PX', math.ceil(tpmTat - now) + 1000) end
if keyTat then
  redis.call('SET', KEYS[8], n(keyTat), 'PX', math.ceil(keyTat - now) + 1000)
  redis.call('SET', KEYS[9], '1', 'PX', 600000)
end
local out = {'ok', n(now)}
local keys = {}
for i = 1, nb do
  redis.call('HINCRBY', KEYS[9 + i], 'reserved', amount)
  keys[i] = KEYS[9 + i]
  out[#out + 1] = n(spent[i])
  out[#out + 1] = n(reserved[i] + amount)
end
-- Kept also with no budget applying when the config has budget lines (the flag after the limits):
-- a line a reload adds puts it on (SEED), as it does the others in flight.
if nb > 0 or probeMs > 0 or ARGV[10 + nb] == '1' then
  if probeMs > 0 then redis.call('SET', KEYS[7], ARGV[1], 'PX', probeMs) end
  redis.call('HSET', KEYS[2], 'state', 'reserved', 'amount', amount, 'keys', cjson.encode(keys), 'owner', ARGV[1], 'probe', probeMs > 0 and KEYS[7] or '', 'row', ARGV[9])
  redis.call('SADD', KEYS[3], KEYS[2])
end
return out`;

/** Ends a reservation: reserved back down, `actual` (nil: the reserved amount) added to spent, probe lock freed. */
const FINISH = `
local function finish(res, owned, state, actual)
  local amount = tonumber(redis.call('HGET', res, 'amount') or '0')
  local keys = cjson.decode(redis.call('HGET', res, 'keys') or '[]')
  local add = actual
  if add == nil then add = amount end
  for _, k in ipairs(keys) do
    redis.call('HINCRBY', k, 'reserved', -amount)
    if add ~= 0 then redis.call('HINCRBY', k, 'spent', add) end
  end
  local probe = redis.call('HGET', res, 'probe')
  if probe and probe ~= '' and redis.call('GET', probe) == redis.call('HGET', res, 'owner') then redis.call('DEL', probe) end
  redis.call('SREM', owned, res)
  redis.call('HSET', res, 'state', state)
  redis.call('PEXPIRE', res, 600000)
  return amount
end`;

/**
 * A budget line seeded from the ledger after a request reserved (a reload added it, or changed its
 * period): the ledger read came before the request's row, so its cost is added here, as it settles.
 * A line not seeded yet is left alone: its seed reads the ledger after this request's row.
 */
const CHARGE_ADDED = `
local function charge(key, actual)
  if redis.call('HGET', key, 'seeded') == '1' then redis.call('HINCRBY', key, 'spent', actual) end
end`;

/**
 * charge: KEYS = budget keys of lines added since a request with no reservation (no budget applied
 * then) reserved; ARGV = actual. Each seeded one is charged the actual cost (CHARGE_ADDED).
 */
export const CHARGE = `${CHARGE_ADDED}
for i = 1, #KEYS do charge(KEYS[i], tonumber(ARGV[1])) end
return 'ok'`;

/**
 * settle / release: KEYS = reservation, owned set, budget keys…, added keys… ; ARGV = 'settle'|'release', actual, how many budget keys.
 * Added keys: lines applying to the request now that it did not reserve on (a reload added them):
 * each one seeded and not on the reservation (a seed attaches in-flight reservations) is charged
 * the actual cost (CHARGE_ADDED).
 * A reservation Redis no longer knows (restarted empty) still gets its actual cost counted, and
 * leaves a tombstone so a late reserve of the same token answers 'late' instead of acting.
 * A reservation another replica reclaimed while its owner still served the request (the owner's
 * lease lapsed: Redis paused, or the process stalled) was counted at the reserved amount; the
 * owner's settle corrects that to its actual cost (a release: to nothing), once, as the ledger
 * row the owner writes replaces the reclaimed one. Replies 'corrected' then.
 */
export const FINISH_ONE = `${FINISH}${CHARGE_ADDED}
local state = redis.call('HGET', KEYS[1], 'state')
local actual = 0
if ARGV[1] == 'settle' then actual = tonumber(ARGV[2]) end
local nb = tonumber(ARGV[3] or '-1')
if nb < 0 then nb = #KEYS - 2 end
local function added(charged)
  if actual == 0 then return end
  for i = 3 + nb, #KEYS do
    local has = false
    for _, k in ipairs(charged) do if k == KEYS[i] then has = true end end
    if not has then charge(KEYS[i], actual) end
  end
end
if state == 'reserved' then
  added(cjson.decode(redis.call('HGET', KEYS[1], 'keys') or '[]'))
  finish(KEYS[1], KEYS[2], ARGV[1] == 'settle' and 'settled' or 'released', actual)
  return 'ok'
end
if state == 'reclaimed' then
  added(cjson.decode(redis.call('HGET', KEYS[1], 'keys') or '[]'))
  local d = actual - tonumber(redis.call('HGET', KEYS[1], 'amount') or '0')
  for _, k in ipairs(cjson.decode(redis.call('HGET', KEYS[1], 'keys') or '[]')) do
    -- A budget period that ended meanwhile has no key left: nothing to correct there.
    if d ~= 0 and redis.call('EXISTS', k) == 1 then redis.call('HINCRBY', k, 'spent', d) end
  end
  redis.call('HSET', KEYS[1], 'state', ARGV[1] == 'settle' and 'settled' or 'released')
  redis.call('PEXPIRE', KEYS[1], 600000)
  return 'corrected'
end
if state then return state end
for i = 3, 2 + nb do
  if actual ~= 0 then redis.call('HINCRBY', KEYS[i], 'spent', actual) end
end
local passed = {}
for i = 3, 2 + nb do passed[#passed + 1] = KEYS[i] end
added(passed)
redis.call('HSET', KEYS[1], 'state', ARGV[1] == 'settle' and 'settled' or 'released')
redis.call('PEXPIRE', KEYS[1], 600000)
return 'unknown'`;

/**
 * undo: a reservation granted but not used (the endpoint became unavailable locally while the
 * reply was on its way). KEYS = reservation, owned set, rpm, tpm; ARGV = rpm, tpm, tokens, periodMs.
 * Gives the window slots back and releases the budgets.
 */
export const UNDO = `${FINISH}
local function refund(key, cost, limit, period)
  if limit <= 0 then return end
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat <= 0 then return end
  redis.call('SET', key, string.format('%.17g', tat - cost * period / limit), 'KEEPTTL')
end
local period = tonumber(ARGV[4])
refund(KEYS[3], 1, tonumber(ARGV[1]), period)
refund(KEYS[4], tonumber(ARGV[3]), tonumber(ARGV[2]), period)
if redis.call('HGET', KEYS[1], 'state') == 'reserved' then finish(KEYS[1], KEYS[2], 'released', 0) end
return 'ok'`;

/**
 * tokens: a finished attempt's real token count replaces its estimate in the shared TPM window (as
 * the endpoint machine's own window is corrected): the estimate charges `max_tokens` (or the model's
 * maxOutputTokens), mostly far above what an answer uses. KEYS = tpm window; ARGV = real count
 * less the estimate (negative: given back), tpm, periodMs. Nothing to give back once the window
 * drained past it.
 */
export const TOKENS = `
${NOW}
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local d = tonumber(ARGV[1]) * tonumber(ARGV[3]) / tonumber(ARGV[2])
if d < 0 and tat <= now then return 0 end
if tat < now then tat = now end
tat = math.max(now, tat + d)
redis.call('SET', KEYS[1], string.format('%.17g', tat), 'PX', math.ceil(tat - now) + 1000)
return 1`;

/** renew: KEYS = lease, replicas, epoch; ARGV = replica id, leaseMs. Replies {epoch or '', now}. */
export const RENEW = `
redis.call('SET', KEYS[1], '1', 'PX', tonumber(ARGV[2]))
redis.call('SADD', KEYS[2], ARGV[1])
${NOW}
return {redis.call('GET', KEYS[3]) or '', tostring(now)}`;

/**
 * reclaim: KEYS = replicas, reclaimed (pending ledger rows);
 * ARGV = key prefix (with hash tag), this replica. Every replica whose lease is gone has its
 * open reservations counted as spent at the reserved amount; their ledger rows wait in
 * `reclaimed` until a replica has written them. Replies the pending rows (token, JSON, …).
 */
export const RECLAIM = `${FINISH}
local me = ARGV[2]
for _, r in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if r ~= me and redis.call('EXISTS', ARGV[1] .. 'lease:' .. r) == 0 then
    local owned = ARGV[1] .. 'own:' .. r
    for _, res in ipairs(redis.call('SMEMBERS', owned)) do
      if redis.call('HGET', res, 'state') == 'reserved' then
        local row = redis.call('HGET', res, 'row')
        local amount = finish(res, owned, 'reclaimed', nil)
        redis.call('HSET', KEYS[2], res, cjson.encode({row = row, amount = amount}))
      end
    end
    redis.call('DEL', owned)
    redis.call('SREM', KEYS[1], r)
  end
end
return redis.call('HGETALL', KEYS[2])`;

/**
 * reopen: KEYS = reservation, owned set, budget keys… ; ARGV = owner, amount, row (JSON). A
 * reservation of this process that an empty restart of Redis lost is made again as it was granted
 * (no limit check); one Redis knows (reserved, settled or a tombstone) is left. 1 when put back.
 */
export const REOPEN = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local keys = {}
for i = 3, #KEYS do
  keys[#keys + 1] = KEYS[i]
  redis.call('HINCRBY', KEYS[i], 'reserved', tonumber(ARGV[2]))
end
redis.call('HSET', KEYS[1], 'state', 'reserved', 'amount', tonumber(ARGV[2]), 'keys', cjson.encode(keys), 'owner', ARGV[1], 'probe', '', 'row', ARGV[3])
redis.call('SADD', KEYS[2], KEYS[1])
return 1`;

/**
 * seed: KEYS = budget key, replicas set; ARGV = spent from the ledger, expire-at ms (0: never),
 * key tag, and the line's scope, client key, model and period start (ms). Only the first seed
 * counts. The ledger has no row yet of a request in flight: every replica's reservation still
 * open that the line applies to (its client key or model; reserved in this period) is attached
 * to it, as if it had reserved on it: its amount reserved here, what the request settled before it
 * (`earlier`, its row not written either) spent here, and the key added to the reservation's, so
 * its settle, release or reclaim counts here too (a reload adding a line while requests run, or
 * Redis restarted empty). A model line counts, of `earlier`, the part charged to its model
 * (`earlierBy`: a cascade's earlier step on another model), whatever model the reservation is for. Replies {1, attached} when seeded, {0, 0} when it was already.
 * ARGV[8] '1' (a line a reload added on this replica): seeded again even when it was, if no
 * replica has looked at it for ARGV[9] ms (`seen`, set by LOOK on every lease tick of a replica that
 * has the line): its spend the ledger's, its reservations counted afresh — a line removed and added
 * back found its old counters, short of what was spent while it was away. A line another replica
 * keeps live is not seeded again (that would lose what settled between the ledger read and the
 * script), but its spend is raised to the ledger's when that is higher: in a rolling reload, the
 * replicas not reloaded yet served requests it does not apply to in their config, whose rows the
 * ledger has (it stayed that much short for the period). Replies {2, 0} when raised.
 */
export const SEED = `
${NOW}
local force = ARGV[8] == '1'
if redis.call('HGET', KEYS[1], 'seeded') == '1' then
  if not force then return {0, 0} end
  if now - tonumber(redis.call('HGET', KEYS[1], 'seen') or '0') < tonumber(ARGV[9]) then
    if tonumber(ARGV[1]) > tonumber(redis.call('HGET', KEYS[1], 'spent') or '0') then
      redis.call('HSET', KEYS[1], 'spent', tonumber(ARGV[1]))
      return {2, 0}
    end
    return {0, 0}
  end
end
if force then
  redis.call('HSET', KEYS[1], 'spent', tonumber(ARGV[1]), 'reserved', 0)
else
  redis.call('HINCRBY', KEYS[1], 'spent', tonumber(ARGV[1]))
end
redis.call('HSET', KEYS[1], 'seeded', '1', 'seen', now)
if tonumber(ARGV[2]) > 0 then redis.call('PEXPIREAT', KEYS[1], tonumber(ARGV[2])) end
if KEYS[2] == nil then return {1, 0} end
local scope, key, model, from = ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
local attached = 0
for _, r in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  for _, res in ipairs(redis.call('SMEMBERS', ARGV[3] .. 'own:' .. r)) do
    if redis.call('HGET', res, 'state') == 'reserved' then
      local ok, row = pcall(cjson.decode, redis.call('HGET', res, 'row') or '')
      if not ok or type(row) ~= 'table' then row = {} end
      local keys = cjson.decode(redis.call('HGET', res, 'keys') or '[]')
      local has = false
      for _, k in ipairs(keys) do if k == KEYS[1] then has = true end end
      local dated = tonumber(row.at) ~= nil and tonumber(row.at) >= from
      local applies = dated
        and (scope == 'global' or (scope == 'key' and row.keyId == key) or (scope == 'model' and (row.model == model or row.also == model)))
      -- row.also: a continuation's reservation by a replica of an earlier version (it reserved on two models); none is written now.
      -- A model line counts the part of earlier charged to its own model (earlierBy), whatever model the reservation is for.
      local byModel = scope == 'model' and type(row.earlierBy) == 'table'
      local earlier = tonumber(row.earlier)
      if byModel then earlier = tonumber(row.earlierBy[model]) end
      -- Seeded afresh: a reservation already on it is counted again (its counters were reset).
      if (applies and not has) or (force and has) then
        if not has then
          keys[#keys + 1] = KEYS[1]
          redis.call('HSET', res, 'keys', cjson.encode(keys))
        end
        redis.call('HINCRBY', KEYS[1], 'reserved', tonumber(redis.call('HGET', res, 'amount') or '0'))
        if earlier ~= nil and earlier > 0 then redis.call('HINCRBY', KEYS[1], 'spent', earlier) end
        attached = attached + 1
      elseif dated and byModel and not has and earlier ~= nil and earlier > 0 then
        redis.call('HINCRBY', KEYS[1], 'spent', earlier)
      end
    end
  end
end
return {1, attached}`;

/**
 * restarted: KEYS = run-id key; ARGV = the server's run_id (INFO server), the deployment's KEYS
 * pattern. A Redis server process other than the one this state was written on (a restart that
 * loaded an RDB snapshot or an AOF, or a fail-over to another server) may hold an older state than
 * what was spent since: every key of the deployment is dropped, so the replicas rebuild as after
 * an empty restart (a new epoch, each replica's reservations in flight put back, budgets seeded
 * from the ledger). The first run on a server with no run-id key (a new deployment) drops
 * nothing. Replies 1 when it dropped the state.
 */
export const RESTARTED = `
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then return 0 end
local dropped = 0
if cur then
  for _, k in ipairs(redis.call('KEYS', ARGV[2])) do redis.call('DEL', k) end
  dropped = 1
end
redis.call('SET', KEYS[1], ARGV[1])
return dropped`;

/**
 * look: KEYS = budget key. Its spent, reserved and seeded fields; a seeded line is marked `seen`
 * now (Redis's clock): a replica has it in its config (SEED's forced rebuild leaves it alone).
 */
export const LOOK = `
local v = redis.call('HMGET', KEYS[1], 'spent', 'reserved', 'seeded')
if v[3] == '1' then
  ${NOW}
  redis.call('HSET', KEYS[1], 'seen', now)
end
return v`;

/** cooldown: KEYS = cooldown key; ARGV = deadline ms. A deadline can only grow. */
export const COOLDOWN = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local at = tonumber(ARGV[1])
if at <= cur then return 0 end
${NOW}
if at <= now then return 0 end
if at > now + ${MAX_UPSTREAM_WAIT_MS} then at = now + ${MAX_UPSTREAM_WAIT_MS} end
redis.call('SET', KEYS[1], string.format('%.17g', at), 'PX', at - now)
return 1`;

/**
 * ledger: KEYS = ledger key; ARGV = this replica's ledger identity (JSON), ttl ms. Marks which
 * ledger the replicas of this key prefix write (while any of them renews its lease: a deployment
 * moved to another database starts afresh once every replica is gone) and replies the mark.
 */
export const LEDGER_MARK = `
local cur = redis.call('GET', KEYS[1])
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
  return ARGV[1]
end
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2])) end
return cur`;

/**
 * leave: KEYS = lease, replicas, ledger mark; ARGV = key prefix (with hash tag), this replica. A
 * clean stop ends the lease; the last replica to stop removes the ledger mark too, so a deployment
 * restarted on another ledger (a typo fixed) is not refused for three lease periods. 1 when it did.
 */
export const LEAVE = `
redis.call('DEL', KEYS[1])
for _, r in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if r ~= ARGV[2] and redis.call('EXISTS', ARGV[1] .. 'lease:' .. r) == 1 then return 0 end
end
redis.call('DEL', KEYS[3])
return 1`;
