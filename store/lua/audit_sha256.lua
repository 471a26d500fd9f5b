-- Self-test of the script-side SHA-256 the audit chain uses.
-- ARGV: input, mode to force ('' picks as audit() does: bit, native,
--       arithmetic)
-- Returns {digest, mode used}.
local force = ARGV[2]
if force == '' then force = nil end
local h, mode = newsha256(force)
return {h(ARGV[1]), mode()}
