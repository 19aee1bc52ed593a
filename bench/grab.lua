-- wrk: POST /api/v1/flash-sales/{id}/grab, each request as the next of 100,000 customers (round robin).
-- Env: TOKENS (file, one bearer token per line), SALE, SESSION, SKU.
local tokens = {}
local i = 0
local path, body

function init(args)
  for line in io.lines(os.getenv("TOKENS")) do
    tokens[#tokens + 1] = line
  end
  path = "/api/v1/flash-sales/" .. os.getenv("SALE") .. "/grab"
  body = '{"session_id":' .. os.getenv("SESSION") .. ',"sku":"' .. os.getenv("SKU") .. '"}'
end

function request()
  i = i + 1
  return wrk.format("POST", path, {
    ["Authorization"] = "Bearer " .. tokens[(i % #tokens) + 1],
    ["Content-Type"] = "application/json",
  }, body)
end
