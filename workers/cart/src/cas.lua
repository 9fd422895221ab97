-- Compare-and-set over one or more carts (issue 5). KEYS: the carts. ARGV, four per key: the version
-- the caller read ('' = absent), the new body ('' = delete the cart), the new version, the TTL in
-- seconds. Either every key still holds the version read and all are written (1), or nothing is and
-- the first key's current version and body come back, so the caller retries without another read.
for i, key in ipairs(KEYS) do
  local current = redis.call('HGET', key, 'v') or ''
  if current ~= ARGV[4 * i - 3] then
    local first = redis.call('HMGET', KEYS[1], 'v', 'body')
    return {0, first[1] or '', first[2] or ''}
  end
end
for i, key in ipairs(KEYS) do
  local body = ARGV[4 * i - 2]
  if body == '' then
    redis.call('DEL', key)
  else
    redis.call('HSET', key, 'v', ARGV[4 * i - 1], 'body', body)
    redis.call('EXPIRE', key, ARGV[4 * i])
  end
end
return 1
