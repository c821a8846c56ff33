// The Lua scripts of the Redis engine (engine-redis.ts): each change that must be atomic across
// processes is one script, so that every process sees one order per room. Every script takes the
// key prefix as ARGV[1] and builds its keys from it (plainchat does not run on Redis Cluster).
//
// Keys: `epoch`; `nodes` (hash: process id to its heartbeat count); per process `node:<id>:peers`
// (set of `<room>\n<name key>\n<name>` it holds); per room `room:<room>:names` (hash: name key
// to name, who is online), `room:<room>:holders` (hash: name key to the ids of the processes
// holding that name, space-separated, each followed by `~` while no connection uses it there, in its
// grace period), `room:<room>:seq`, `room:<room>:history` (stream, entry
// ids `<seq>-0`) and `room:<room>:deleted` (hash: seq to the tombstone's JSON of a message taken out of the stream); per owned name `owner:<room>:<name key>` (the owning session's token hash);
// per session `session:<token hash>` (`<room>\n<name>`) and `mail:<token hash>:<room>` (list of
// kept direct messages); `sent:<token hash> <id>` (a remembered message id). Events go on channel
// `events:<room>`; an event that marks a point in the stream for one process carries `sync`.
//
// A name key (`folded` in the scripts) is nameKey(name) (lib/names.ts), the name as compared for
// uniqueness: opaque text to the scripts, any UTF-8 but never a newline (names have none), so `\n`
// can join set members.

const PRELUDE = `
local p = ARGV[1]
local function roomKey(room, part) return p .. 'room:' .. room .. ':' .. part end
local function channel(room) return p .. 'events:' .. room end
local function member(room, folded, name) return room .. '\\n' .. folded .. '\\n' .. name end
local function isEpoch(epoch) return redis.call('GET', p .. 'epoch') == epoch end
-- A name's holders other than \`node\`, and whether \`node\` was one.
local function othersThan(holders, node)
  local rest, found = {}, false
  for id in string.gmatch(holders or '', '%S+') do
    if id == node or id == node .. '~' then found = true else rest[#rest + 1] = id end
  end
  return rest, found
end
local function snapshot(room)
  local result = {'ok', redis.call('GET', roomKey(room, 'seq')) or '0'}
  for _, name in ipairs(redis.call('HVALS', roomKey(room, 'names'))) do result[#result + 1] = name end
  return result
end
-- Takes process \`node\` out of the holders of a name; when nobody holds it any more, it leaves the
-- room's presence (announced), and an emptied room's history expires after the room TTL.
local function release(room, folded, name, node, roomTtl)
  redis.call('SREM', p .. 'node:' .. node .. ':peers', member(room, folded, name))
  local holdersKey = roomKey(room, 'holders')
  local rest, found = othersThan(redis.call('HGET', holdersKey, folded), node)
  if not found then return 0 end
  if #rest > 0 then
    redis.call('HSET', holdersKey, folded, table.concat(rest, ' '))
    return 0
  end
  redis.call('HDEL', holdersKey, folded)
  local namesKey = roomKey(room, 'names')
  if redis.call('HGET', namesKey, folded) ~= name then return 0 end
  redis.call('HDEL', namesKey, folded)
  redis.call('PUBLISH', channel(room), cjson.encode({type = 'peer-left', data = name}))
  if redis.call('HLEN', namesKey) == 0 then
    redis.call('PEXPIRE', roomKey(room, 'seq'), roomTtl)
    redis.call('PEXPIRE', roomKey(room, 'history'), roomTtl)
    redis.call('PEXPIRE', roomKey(room, 'topic'), roomTtl)
    redis.call('PEXPIRE', roomKey(room, 'deleted'), roomTtl)
  end
  return 1
end
-- The room's oldest kept seq (seq + 1 when none is): the stream's first entry, or a tombstone
-- just before it (a deleted message leaves the stream, and its tombstone takes its place).
local function oldestOf(room, seq)
  local first = redis.call('XRANGE', roomKey(room, 'history'), '-', '+', 'COUNT', 1)[1]
  local oldest = first and tonumber(string.match(first[1], '^%d+')) or seq + 1
  local deleted = roomKey(room, 'deleted')
  while oldest > 1 and redis.call('HEXISTS', deleted, oldest - 1) == 1 do oldest = oldest - 1 end
  return oldest
end
-- The kept messages \`from\`..\`to\` as JSON, in order, each deleted one's tombstone in its place.
local function readRange(room, from, to)
  local result = {}
  if from > to then return result end
  local deleted = roomKey(room, 'deleted')
  local hasTombstones = redis.call('EXISTS', deleted) == 1
  local bySeq = {}
  for _, entry in ipairs(redis.call('XRANGE', roomKey(room, 'history'), from .. '-0', to .. '-0')) do
    bySeq[tonumber(string.match(entry[1], '^%d+'))] = entry[2][2]
  end
  for seq = from, to do
    local json = bySeq[seq] or (hasTombstones and redis.call('HGET', deleted, seq))
    if json then result[#result + 1] = json end
  end
  return result
end
`;

/**
 * Enters a name into a room's presence for process ARGV[6] and session ARGV[7] (a token hash),
 * which owns it from now for ARGV[8] ms. ARGV: prefix, epoch, room, name key, name, node,
 * token hash, session TTL, sync tag, '1' to return the room's snapshot, '1' when the session
 * claims a name it owns (a fresh name must be free). Returns 'epoch' (Redis holds another history),
 * 'taken' (someone else's name), or {'ok'} / {'ok', seq, names...}; announces `peer-joined` with the
 * tag, or only the tag when the name was online already.
 */
export const JOIN = `${PRELUDE}
local room, folded, name, node, hash, ttl, tag = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
if not isEpoch(ARGV[2]) then return 'epoch' end
local ownerKey = p .. 'owner:' .. room .. ':' .. folded
local owner = redis.call('GET', ownerKey)
if owner and owner ~= hash then return 'taken' end
local namesKey = roomKey(room, 'names')
local online = redis.call('HGET', namesKey, folded)
if online and (online ~= name or ARGV[11] ~= '1') then return 'taken' end
redis.call('SET', ownerKey, hash, 'PX', ttl)
redis.call('SET', p .. 'session:' .. hash, room .. '\\n' .. name, 'PX', ttl)
local holders = othersThan(redis.call('HGET', roomKey(room, 'holders'), folded), node)
holders[#holders + 1] = node
redis.call('HSET', roomKey(room, 'holders'), folded, table.concat(holders, ' '))
redis.call('SADD', p .. 'node:' .. node .. ':peers', member(room, folded, name))
redis.call('PERSIST', roomKey(room, 'seq'))
redis.call('PERSIST', roomKey(room, 'history'))
redis.call('PERSIST', roomKey(room, 'topic'))
redis.call('PERSIST', roomKey(room, 'deleted'))
if online then
  redis.call('PUBLISH', channel(room), cjson.encode({type = 'sync', sync = tag}))
else
  redis.call('HSET', namesKey, folded, name)
  redis.call('PUBLISH', channel(room), cjson.encode({type = 'peer-joined', data = name, sync = tag}))
end
if ARGV[10] == '1' then return snapshot(room) end
return {'ok'}`;

/**
 * Releases a name process ARGV[6] holds (see release); with the hash of the token (ARGV[7]) whose
 * session owns it, renews that ownership for ARGV[8] ms from now. ARGV: prefix, room TTL, room,
 * name key, name, node, token hash or '', session TTL.
 */
export const LEAVE = `${PRELUDE}
local room, folded, name, hash, ttl = ARGV[3], ARGV[4], ARGV[5], ARGV[7], ARGV[8]
if hash ~= '' and redis.call('GET', p .. 'owner:' .. room .. ':' .. folded) == hash then
  redis.call('PEXPIRE', p .. 'owner:' .. room .. ':' .. folded, ttl)
  redis.call('SET', p .. 'session:' .. hash, room .. '\\n' .. name, 'PX', ttl)
end
return release(room, folded, name, ARGV[6], ARGV[2])`;

/** Process ARGV[4] holds a name with no connection using it now (its grace period). ARGV: prefix, room, name key, node. */
export const AWAY = `${PRELUDE}
local holdersKey = roomKey(ARGV[2], 'holders')
local rest, found = othersThan(redis.call('HGET', holdersKey, ARGV[3]), ARGV[4])
if not found then return 0 end
rest[#rest + 1] = ARGV[4] .. '~'
redis.call('HSET', holdersKey, ARGV[3], table.concat(rest, ' '))
return 1`;

/**
 * A direct message: to the name's connections, when a process has one (announced to everyone, so
 * that the two ends hear it), or else, when a session owns the name, kept in its mail for ARGV[7]
 * ms (announced with stored = true, for the sender) unless ARGV[8] wait there already. ARGV:
 * prefix, room, name key, from, message, ts, session TTL, most kept. Returns 'live', 'stored',
 * 'unknown' or 'full'.
 */
export const DIRECT = `${PRELUDE}
local room, folded = ARGV[2], ARGV[3]
local to = redis.call('HGET', roomKey(room, 'names'), folded)
local message = {from = ARGV[4], message = ARGV[5], ts = tonumber(ARGV[6])}
if to then
  for id in string.gmatch(redis.call('HGET', roomKey(room, 'holders'), folded) or '', '%S+') do
    if string.sub(id, -1) ~= '~' then
      message.to = to
      redis.call('PUBLISH', channel(room), cjson.encode({type = 'direct-message', data = message}))
      return 'live'
    end
  end
end
local owner = redis.call('GET', p .. 'owner:' .. room .. ':' .. folded)
if not owner then return 'unknown' end
if not to then
  local kept = redis.call('GET', p .. 'session:' .. owner)
  if not kept then return 'unknown' end
  to = string.match(kept, '\\n(.*)$')
end
message.to = to
local mail = p .. 'mail:' .. owner .. ':' .. room
if redis.call('LLEN', mail) >= tonumber(ARGV[8]) then return 'full' end
redis.call('RPUSH', mail, cjson.encode(message))
redis.call('PEXPIRE', mail, ARGV[7])
message.stored = true
redis.call('PUBLISH', channel(room), cjson.encode({type = 'direct-message', data = message}))
return 'stored'`;

/** Renews a session's ownership of its name for ARGV[6] ms, unless another session owns it now. ARGV: prefix, room, name key, name, token hash, session TTL. */
export const RENEW = `${PRELUDE}
local ownerKey = p .. 'owner:' .. ARGV[2] .. ':' .. ARGV[3]
local owner = redis.call('GET', ownerKey)
if owner and owner ~= ARGV[5] then return 0 end
redis.call('SET', ownerKey, ARGV[5], 'PX', ARGV[6])
redis.call('SET', p .. 'session:' .. ARGV[5], ARGV[2] .. '\\n' .. ARGV[4], 'PX', ARGV[6])
return 1`;

/**
 * Renames an online name unless the new one (by its key) is someone else's: online, or owned by
 * another session. Every process holding it holds the new name instead; the session (ARGV[8])
 * owns the new name. ARGV: prefix, epoch, room, from key, from, to key, to, token hash, session
 * TTL. Returns 'epoch', 0 or 1; announces `peer-renamed`.
 */
export const RENAME = `${PRELUDE}
local room, fromKey, from, toKey, to, hash, ttl = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
if not isEpoch(ARGV[2]) then return 'epoch' end
local namesKey, holdersKey = roomKey(room, 'names'), roomKey(room, 'holders')
if redis.call('HGET', namesKey, fromKey) ~= from then return 0 end
local toOwner = redis.call('GET', p .. 'owner:' .. room .. ':' .. toKey)
if fromKey ~= toKey and (redis.call('HEXISTS', namesKey, toKey) == 1 or (toOwner and toOwner ~= hash)) then return 0 end
redis.call('HDEL', namesKey, fromKey)
redis.call('HSET', namesKey, toKey, to)
local holders = redis.call('HGET', holdersKey, fromKey)
if holders then
  redis.call('HDEL', holdersKey, fromKey)
  redis.call('HSET', holdersKey, toKey, holders)
  for id in string.gmatch(holders, '[^%s~]+') do
    redis.call('SREM', p .. 'node:' .. id .. ':peers', member(room, fromKey, from))
    redis.call('SADD', p .. 'node:' .. id .. ':peers', member(room, toKey, to))
  end
end
local fromOwnerKey = p .. 'owner:' .. room .. ':' .. fromKey
if redis.call('GET', fromOwnerKey) == hash then redis.call('DEL', fromOwnerKey) end
redis.call('SET', p .. 'owner:' .. room .. ':' .. toKey, hash, 'PX', ttl)
redis.call('SET', p .. 'session:' .. hash, room .. '\\n' .. to, 'PX', ttl)
redis.call('PUBLISH', channel(room), cjson.encode({type = 'peer-renamed', data = {from = from, to = to}}))
return 1`;

/**
 * Numbers a message, keeps it in the capped stream and publishes it; returns it as JSON, or 'epoch'.
 * ARGV: prefix, epoch, room, the message's JSON up to its seq, history size, dedupe key (a token
 * hash and id) or '', its lifetime in ms. With a dedupe key already set, returns what that key got.
 */
export const PUBLISH = `${PRELUDE}
local room, head, dedupe = ARGV[3], ARGV[4], ARGV[6]
if not isEpoch(ARGV[2]) then return 'epoch' end
local dedupeKey = p .. 'sent:' .. dedupe
if dedupe ~= '' then
  local prior = redis.call('GET', dedupeKey)
  if prior then return prior end
end
local seq = redis.call('INCR', roomKey(room, 'seq'))
local message = head .. seq .. '}'
redis.call('XADD', roomKey(room, 'history'), 'MAXLEN', ARGV[5], seq .. '-0', 'm', message)
redis.call('PUBLISH', channel(room), '{"type":"message","data":' .. message .. '}')
if dedupe ~= '' then redis.call('SET', dedupeKey, message, 'PX', ARGV[7]) end
return message`;

/**
 * Room ARGV[2]'s newest seq, its oldest kept seq (see oldestOf) and its newest ARGV[3] messages'
 * JSON (none for 0), newest first, tombstones in their places, read at one instant: {seq, oldest, json...}.
 */
export const NEWEST = `${PRELUDE}
local seq = tonumber(redis.call('GET', roomKey(ARGV[2], 'seq')) or '0')
local oldest = oldestOf(ARGV[2], seq)
local result = {tostring(seq), tostring(oldest)}
local latest = readRange(ARGV[2], math.max(oldest, seq - tonumber(ARGV[3]) + 1), seq)
for i = #latest, 1, -1 do result[#result + 1] = latest[i] end
return result`;

/** Room ARGV[2]'s kept messages ARGV[3] to ARGV[4] as JSON, oldest first, tombstones in their places. */
export const RANGE = `${PRELUDE}
return readRange(ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]))`;

/**
 * Replaces message ARGV[4] of room ARGV[3] by its tombstone, deleted by ARGV[5]: the entry leaves
 * the stream (its text with it) and the tombstone is kept in `deleted`, with the history's expiry;
 * publishes `message-deleted`. ARGV: prefix, epoch, room, seq, by. Returns 'epoch', {'unknown'}
 * (not kept), or {'new' or 'old' (a tombstone already), the tombstone's JSON}.
 */
export const DELETE = `${PRELUDE}
local room, seq, by = ARGV[3], ARGV[4], ARGV[5]
if not isEpoch(ARGV[2]) then return 'epoch' end
local deleted, history = roomKey(room, 'deleted'), roomKey(room, 'history')
local prior = redis.call('HGET', deleted, seq)
if prior then return {'old', prior} end
local entry = redis.call('XRANGE', history, seq .. '-0', seq .. '-0')[1]
if not entry then return {'unknown'} end
local message = cjson.decode(entry[2][2])
local tombstone = cjson.encode({sender = message.sender, message = '', ts = message.ts, seq = message.seq, epoch = message.epoch, deleted = true, deletedBy = by})
redis.call('HSET', deleted, seq, tombstone)
redis.call('XDEL', history, seq .. '-0')
local ttl = redis.call('PTTL', history)
if ttl > 0 then redis.call('PEXPIRE', deleted, ttl) end
redis.call('PUBLISH', channel(room), cjson.encode({type = 'message-deleted', data = {seq = message.seq, sender = message.sender, by = by}}))
return {'new', tombstone}`;

/** Marks a point in room ARGV[2]'s stream with tag ARGV[3] and returns the room there: {'ok', seq, names...}. */
export const MARK = `${PRELUDE}
redis.call('PUBLISH', channel(ARGV[2]), cjson.encode({type = 'sync', sync = ARGV[3]}))
return snapshot(ARGV[2])`;

/**
 * A process's heartbeat: counts one more beat for ARGV[3] and returns every process's count
 * {'ok', id, count, ...}; or {'epoch', epoch} when Redis holds another history than ARGV[2] (or
 * none: {'epoch'}), or {'swept'} when another process took this one for dead (it is registered again).
 */
export const BEAT = `${PRELUDE}
local epoch = redis.call('GET', p .. 'epoch')
if epoch ~= ARGV[2] then return {'epoch', epoch} end
if redis.call('HEXISTS', p .. 'nodes', ARGV[3]) == 0 then
  redis.call('HSET', p .. 'nodes', ARGV[3], 0)
  return {'swept'}
end
redis.call('HINCRBY', p .. 'nodes', ARGV[3], 1)
local result = redis.call('HGETALL', p .. 'nodes')
table.insert(result, 1, 'ok')
return result`;

/**
 * Takes a dead process's names out of their rooms, if its heartbeat count is still ARGV[3] (it has
 * not beaten since it was seen): ARGV: prefix, room TTL, process id, count.
 */
export const SWEEP = `${PRELUDE}
local node = ARGV[3]
if redis.call('HGET', p .. 'nodes', node) ~= ARGV[4] then return 0 end
for _, held in ipairs(redis.call('SMEMBERS', p .. 'node:' .. node .. ':peers')) do
  local room, folded, name = string.match(held, '^([^\\n]*)\\n([^\\n]*)\\n(.*)$')
  release(room, folded, name, node, ARGV[2])
end
redis.call('DEL', p .. 'node:' .. node .. ':peers')
redis.call('HDEL', p .. 'nodes', node)
return 1`;
