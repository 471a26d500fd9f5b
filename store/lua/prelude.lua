-- Shared by every muster script. KEYS[1] is the namespace prefix
-- "muster:{ns}:"; every other key is built from it, so all keys of a
-- script share one hash tag and one Redis Cluster slot.
local P = KEYS[1]

-- A chat request's replay guard (store/guard.go) rides on the first
-- script its command runs: KEYS[2] is the key that remembers the request
-- (same hash tag, same Cluster slot) and the last ARGV its TTL in ms,
-- taken off here so the body sees its own arguments. A key already set
-- means the request was handled before: refuse before anything changes.
if KEYS[2] then
  local guardttl = table.remove(ARGV)
  if not redis.call('SET', KEYS[2], 1, 'NX', 'PX', guardttl) then
    return redis.error_reply('replayed')
  end
end

-- bitsha256 is SHA-256 on Redis's Lua 5.1 with LuaBitOp (B), as fast as
-- that allows: the audit chain hashes every event in the script that
-- appends it, so this is most of what an escalation step costs Redis.
-- A call into `bit` costs some 15-20 ns there, about as much as five VM
-- operations, so a round uses six (SHA-256 done plainly takes sixteen):
--   * Words are kept as non-negative doubles below 2^32, and rotations
--     and shifts are arithmetic. With m = x % 2^n, ror(x, n) is
--     (x - m) / 2^n + m * 2^(32-n), or in one operation fewer
--     x / 2^n + m * (2^(32-n) - 2^-n), whose product needs 32 + n bits:
--     exact in a double for n <= 21, so the rotations by 22 and 25 take
--     the first form. A shift is (x - m) / 2^n. A sum of words is reduced
--     with % 2^32 (a VM operation, not a call) only where a rotation
--     will read it.
--   * band and bxor reduce their arguments mod 2^32 themselves (any
--     integer-valued double below 2^51), so sums go in unreduced, and
--     their signed results go into sums that are reduced later.
--   * ch(e, f, g) = (e and f) + ((not e) and g): the two share no bits,
--     so their sum is their OR; not e is -1 - e.
--   * maj(a, b, c) = (a and b) + (c and (a xor b)), disjoint likewise,
--     with a xor b = a + b - 2 (a and b): the AND already computed.
-- The message is read with one string.byte call per block.
-- store/audit_test.go checks it against crypto/sha256.
local function bitsha256(B, K)
  local band, bxor, hex = B.band, B.bxor, B.tohex
  local byte, rep, char = string.byte, string.rep, string.char
  local w = {}
  for i = 1, 64 do w[i] = 0 end
  return function(s)
    local n = #s
    -- Pad: 0x80, zeros to 56 mod 64, then the length in bits as eight
    -- bytes, big-endian. A Redis string is at most 512 MB, so the length
    -- is below 2^32 bits and the first four bytes are zero (char refuses
    -- a larger l0 rather than hash it wrongly).
    local l = n * 8
    local l3 = l % 256
    l = (l - l3) / 256
    local l2 = l % 256
    l = (l - l2) / 256
    local l1 = l % 256
    local l0 = (l - l1) / 256
    s = s .. '\128' .. rep('\0', (55 - n) % 64) .. char(0, 0, 0, 0, l0, l1, l2, l3)
    local h0, h1, h2, h3 = 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a
    local h4, h5, h6, h7 = 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
    for off = 0, #s - 1, 64 do
      local m = {byte(s, off + 1, off + 64)}
      for i = 1, 16 do
        local j = i * 4
        w[i] = ((m[j - 3] * 256 + m[j - 2]) * 256 + m[j - 1]) * 256 + m[j]
      end
      for i = 17, 64 do
        -- s0 = ror7 ^ ror18 ^ shr3 of w[i-15]; s1 = ror17 ^ ror19 ^ shr10 of w[i-2]
        local x, y = w[i - 15], w[i - 2]
        local x7, x18, x3 = x % 128, x % 262144, x % 8
        local y17, y19, y10 = y % 131072, y % 524288, y % 1024
        w[i] = (w[i - 16] + w[i - 7]
          + bxor(x / 128 + x7 * (2 ^ 25 - 2 ^ -7), x / 262144 + x18 * (2 ^ 14 - 2 ^ -18), (x - x3) / 8)
          + bxor(y / 131072 + y17 * (2 ^ 15 - 2 ^ -17), y / 524288 + y19 * (2 ^ 13 - 2 ^ -19), (y - y10) / 1024))
          % 4294967296
      end
      local a, b, c, d, e, f, g, h = h0, h1, h2, h3, h4, h5, h6, h7
      for i = 1, 64 do
        -- t1 = h + S1(e) + ch(e, f, g) + K[i] + w[i], S1 = ror6 ^ ror11 ^ ror25
        local e6, e11, e25 = e % 64, e % 2048, e % 33554432
        local t1 = h + K[i] + w[i] + band(e, f) + band(-1 - e, g)
          + bxor(e / 64 + e6 * (2 ^ 26 - 2 ^ -6), e / 2048 + e11 * (2 ^ 21 - 2 ^ -11), (e - e25) / 33554432 + e25 * 128)
        -- t2 = S0(a) + maj(a, b, c), S0 = ror2 ^ ror13 ^ ror22
        local a2, a13, a22 = a % 4, a % 8192, a % 4194304
        local ab = band(a, b)
        local t2 = ab + band(c, a + b - 2 * ab)
          + bxor(a / 4 + a2 * (2 ^ 30 - 2 ^ -2), a / 8192 + a13 * (2 ^ 19 - 2 ^ -13), (a - a22) / 4194304 + a22 * 1024)
        h, g, f, e = g, f, e, (d + t1) % 4294967296
        d, c, b, a = c, b, a, (t1 + t2) % 4294967296
      end
      h0, h1, h2, h3 = (h0 + a) % 4294967296, (h1 + b) % 4294967296, (h2 + c) % 4294967296, (h3 + d) % 4294967296
      h4, h5, h6, h7 = (h4 + e) % 4294967296, (h5 + f) % 4294967296, (h6 + g) % 4294967296, (h7 + h) % 4294967296
    end
    return hex(h0) .. hex(h1) .. hex(h2) .. hex(h3) .. hex(h4) .. hex(h5) .. hex(h6) .. hex(h7)
  end
end

-- newsha256 returns a function giving the SHA-256 digest of a string as
-- 64 lowercase hex digits (FIPS 180-4), and a function naming the way it
-- computes it. Redis 5 to 7 ship the LuaBitOp library `bit` (signed 32-bit
-- operations): mode "bit" (bitsha256). The embedded server (gopher-lua) has no `bit`;
-- there the digest comes from the server's MUSTER.SHA256 command when the
-- store registered it (mode "native", see store/audit.go), and otherwise
-- from the same rounds on plain arithmetic over non-negative integers
-- below 2^32, which a double holds exactly, with AND and XOR done four bits
-- at a time through 16x16 tables (mode "arithmetic": correct, but some
-- 25 ms per event on gopher-lua). force picks a mode, for the self-test.
-- store/audit_test.go checks every mode against crypto/sha256.
local function newsha256(force)
  local K = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  }
  local floor, byte, rep, char = math.floor, string.byte, string.rep, string.char
  local HEXD = '0123456789abcdef'
  -- Mode "arithmetic": band, bxor, bxor3, ror, shr work on 32-bit words;
  -- norm reduces a sum of words to one word; hex writes a word as 8 hex
  -- digits.
  local band, bxor, bxor3, ror, shr, norm, hex
  local B = rawget(_G, 'bit')
  local mode = force
  if not mode then
    mode = 'arithmetic'
    if type(B) == 'table' and B.ror then
      mode = 'bit'
    elseif type(redis.pcall('MUSTER.SHA256', '')) == 'string' then
      mode = 'native'
    end
  end
  local function named() return mode end
  if mode == 'native' then
    return function(s) return redis.call('MUSTER.SHA256', s) end, named
  end
  if mode == 'bit' then
    return bitsha256(B, K), named
  end
  do
    local X, A -- 4-bit XOR and AND tables, index a*16+b; built on first use
    local function tables()
      X, A = {}, {}
      for a = 0, 15 do
        for b = 0, 15 do
          local x, y, r, s, p = a, b, 0, 0, 1
          for _ = 1, 4 do
            local i, j = x % 2, y % 2
            if i ~= j then r = r + p end
            if i == 1 and j == 1 then s = s + p end
            x, y, p = (x - i) / 2, (y - j) / 2, p * 2
          end
          X[a * 16 + b], A[a * 16 + b] = r, s
        end
      end
    end
    local function op(T)
      return function(a, b)
        local r, p = 0, 1
        for _ = 1, 8 do
          local x, y = a % 16, b % 16
          r = r + T[x * 16 + y] * p
          a, b, p = (a - x) / 16, (b - y) / 16, p * 16
        end
        return r
      end
    end
    bxor = function(a, b)
      if not X then tables() end
      bxor = op(X)
      band = op(A)
      return bxor(a, b)
    end
    band = function(a, b)
      if not X then tables() end
      bxor = op(X)
      band = op(A)
      return band(a, b)
    end
    bxor3 = function(a, b, c)
      if not X then tables() end
      local r, p = 0, 1
      for _ = 1, 8 do
        local x, y, z = a % 16, b % 16, c % 16
        r = r + X[X[x * 16 + y] * 16 + z] * p
        a, b, c, p = (a - x) / 16, (b - y) / 16, (c - z) / 16, p * 16
      end
      return r
    end
    local P2 = {}
    for i = 0, 32 do P2[i] = 2 ^ i end
    ror = function(x, n)
      local lo = x % P2[n]
      return (x - lo) / P2[n] + lo * P2[32 - n]
    end
    shr = function(x, n) return floor(x / P2[n]) end
    norm = function(x) return x % 4294967296 end
    hex = function(x)
      local out = {}
      for i = 8, 1, -1 do
        local d = x % 16
        out[i] = string.sub(HEXD, d + 1, d + 1)
        x = (x - d) / 16
      end
      return table.concat(out)
    end
  end
  return function(s)
    local n = #s
    -- Pad: 0x80, zeros to 56 mod 64, then the bit length, big-endian.
    local bits = n * 8
    local len = {}
    for i = 8, 1, -1 do
      local b = bits % 256
      len[i] = char(b)
      bits = (bits - b) / 256
    end
    s = s .. '\128' .. rep('\0', (55 - n) % 64) .. table.concat(len)
    local h0, h1, h2, h3 = 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a
    local h4, h5, h6, h7 = 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
    local w = {}
    for off = 1, #s, 64 do
      for i = 1, 16 do
        local b1, b2, b3, b4 = byte(s, off + i * 4 - 4, off + i * 4 - 1)
        w[i] = ((b1 * 256 + b2) * 256 + b3) * 256 + b4
      end
      for i = 17, 64 do
        local x, y = w[i - 15], w[i - 2]
        local s0 = bxor3(ror(x, 7), ror(x, 18), shr(x, 3))
        local s1 = bxor3(ror(y, 17), ror(y, 19), shr(y, 10))
        w[i] = norm(w[i - 16] + s0 + w[i - 7] + s1)
      end
      local a, b, c, d, e, f, g, h = h0, h1, h2, h3, h4, h5, h6, h7
      for i = 1, 64 do
        local S1 = bxor3(ror(e, 6), ror(e, 11), ror(e, 25))
        local ch = bxor(g, band(e, bxor(f, g)))
        local t1 = h + S1 + ch + K[i] + w[i]
        local S0 = bxor3(ror(a, 2), ror(a, 13), ror(a, 22))
        -- maj(a, b, c): (a and b) and (c and (a xor b)) share no bits, so
        -- their sum is their OR.
        local maj = band(a, b) + band(c, bxor(a, b))
        h, g, f, e = g, f, e, norm(d + t1)
        d, c, b, a = c, b, a, norm(t1 + S0 + maj)
      end
      h0, h1, h2, h3 = norm(h0 + a), norm(h1 + b), norm(h2 + c), norm(h3 + d)
      h4, h5, h6, h7 = norm(h4 + e), norm(h5 + f), norm(h6 + g), norm(h7 + h)
    end
    return hex(h0) .. hex(h1) .. hex(h2) .. hex(h3) .. hex(h4) .. hex(h5) .. hex(h6) .. hex(h7)
  end, named
end

-- sha256 is chosen on first use, so scripts that append no audit event
-- pay nothing for it.
local sha256impl
local function sha256(s)
  if not sha256impl then sha256impl = newsha256() end
  return sha256impl(s)
end

-- auditjson writes v as a JSON string for the audit chain's canonical
-- form: only '"', '\\' and the bytes 0x00-0x1f are escaped ('\\"', '\\\\',
-- '\\u00XX' with lowercase hex); every other byte, UTF-8 included, is
-- written as it is. store/audit.go writes the same bytes in Go.
local function auditescape(c)
  if c == '"' then return '\\"' end
  if c == '\\' then return '\\\\' end
  local b = string.byte(c)
  local hexd = '0123456789abcdef'
  local lo = b % 16
  local hi = (b - lo) / 16
  return '\\u00' .. string.sub(hexd, hi + 1, hi + 1) .. string.sub(hexd, lo + 1, lo + 1)
end
local function auditjson(v)
  -- Most fields (kind, actor, subject, prev) need no escaping: one
  -- search instead of a substitution.
  if not string.find(v, '[%z\1-\31"\\]') then return '"' .. v .. '"' end
  return '"' .. string.gsub(v, '[%z\1-\31"\\]', auditescape) .. '"'
end

-- audit appends one event to the namespace's append-only audit stream.
-- It runs inside the same script as the change it records, so the change
-- and its record land together or not at all. Each event is chained: it
-- carries its sequence number, the SHA-256 of the event before it (prev)
-- and the SHA-256 of its own canonical JSON (hash); the chain head (last
-- seq and hash) is kept in audit:head by the same script. The canonical
-- form is defined in store/audit.go (CanonicalJSON):
--   {"seq":N,"at":MS,"kind":"..","actor":"..","subject":"..","data":"..","prev":".."}
-- It returns the new event's hash.
local function audit(now, kind, actor, subject, data)
  local function str(v)
    if v == nil or v == false then return '' end
    return tostring(v)
  end
  now, kind, actor, subject, data = str(now), str(kind), str(actor), str(subject), str(data)
  local hk = P .. 'audit:head'
  local head = redis.call('HMGET', hk, 'seq', 'hash')
  local seq = string.format('%d', (tonumber(head[1]) or 0) + 1)
  local prev = head[2] or string.rep('0', 64)
  local canon = '{"seq":' .. seq .. ',"at":' .. now .. ',"kind":' .. auditjson(kind) ..
    ',"actor":' .. auditjson(actor) .. ',"subject":' .. auditjson(subject) ..
    ',"data":' .. auditjson(data) .. ',"prev":' .. auditjson(prev) .. '}'
  local hash = sha256(canon)
  local id = redis.call('XADD', P .. 'audit', '*', 'seq', seq, 'at', now, 'kind', kind, 'actor', actor,
    'subject', subject, 'data', data, 'prev', prev, 'hash', hash)
  redis.call('HSET', hk, 'seq', seq, 'hash', hash, 'id', id, 'at', now)
  return hash
end

-- timeline appends one entry to a record's timeline stream.
local function timeline(key, now, actor, kind, text)
  redis.call('XADD', key, '*', 'at', now, 'actor', actor, 'kind', kind, 'text', text)
end

-- changed tells every muster process that a record changed, so chat
-- surfaces can refresh its card (Slack chat.update, Discord edit).
local function changed(ref)
  redis.call('XADD', P .. 'changes', 'MAXLEN', '~', 10000, '*', 'ref', ref)
end

-- enqueue puts one outgoing message on the durable outbox, at most once
-- per idempotency key: a retried step never enqueues the same send twice.
-- m is a table with key, channel, to, site, kind, ref, text, task, drill.
-- fillid writes a record's id, only known inside the script that makes
-- it, where a message's text holds the placeholder \1ID\1.
local function fillid(text, id)
  local ph = '\1ID\1'
  local i = string.find(text or '', ph, 1, true)
  while i do
    text = string.sub(text, 1, i - 1) .. id .. string.sub(text, i + string.len(ph))
    i = string.find(text, ph, 1, true)
  end
  return text
end

local function enqueue(m, now, id)
  if id then
    m.text = fillid(m.text, id)
    if not m.ref or m.ref == '' then m.ref = id end
  end
  if m.key and m.key ~= '' then
    local fresh = redis.call('SET', P .. 'sent:' .. m.key, now, 'NX', 'PX', 604800000)
    if not fresh then return false end
  end
  redis.call('XADD', P .. 'outbox', '*', 'key', m.key or '', 'channel', m.channel or 'chat',
    'to', m.to or '', 'site', m.site or '', 'kind', m.kind or '', 'ref', m.ref or '',
    'text', m.text or '', 'task', m.task or '', 'drill', m.drill or '', 'queued', now)
  return true
end

-- wake tells the engines of every process that the earliest deadline may
-- have moved, so none has to poll.
local function wake(due)
  redis.call('PUBLISH', P .. 'wake', due)
end
