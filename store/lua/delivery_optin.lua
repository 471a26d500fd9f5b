-- Record an SMS opt-out (STOP) or opt-in (START) a person sent. Twilio
-- itself stops and resumes delivery to the number; muster keeps the
-- record, so a coordinator can see why someone stopped getting texts.
-- ARGV: now ms, person id ('' when the number is unknown), masked phone,
--       keyword, out ('1' opt-out, '' opt-in)
local now, who, masked, word = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local kind = 'sms.opt_in'
if ARGV[5] == '1' then
  kind = 'sms.opt_out'
  if who ~= '' then redis.call('HSET', P .. 'sms:optout', who, now) end
elseif who ~= '' then
  redis.call('HDEL', P .. 'sms:optout', who)
end
local actor = who
if actor == '' then actor = 'unknown' end
audit(now, kind, actor, masked, cjson.encode({keyword = word}))
return 'ok'
