-- wrk: POST /api/v1/orders with tokens of distinct customers, round-robin per request.
-- Reads tokens from the file named by TOKENS and the SKU from SKU.
local tokens = {}
local i = 0
local body

function init(args)
  for line in io.lines(os.getenv("TOKENS")) do
    tokens[#tokens + 1] = line
  end
  body = '{"payment_method":"card","lines":[{"sku":"' .. os.getenv("SKU") .. '","quantity":1}]}'
end

function request()
  i = i + 1
  local t = tokens[(i % #tokens) + 1]
  return wrk.format("POST", "/api/v1/orders", {
    ["Authorization"] = "Bearer " .. t,
    ["Content-Type"] = "application/json",
  }, body)
end
