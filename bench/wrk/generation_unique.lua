-- POST /v1/generations like generation.lua, but every request has a prompt of its own, so every
-- image is rendered and stored anew: the full cost of a generation, next to generation.lua's
-- repeated prompt (rendered once, then served from the render cache and the image store, which
-- leaves the spend path to measure).
dofile(os.getenv("WRK_DIR") .. "/report.lua")

local run = tostring(math.random(1, 1e9))

function request()
  local body = '{"model":"qwen-image","prompt":"a lighthouse at dusk, variation ' .. run .. "-" .. tostring(offset or 0)
    .. "-" .. tostring(counter) .. '","size":"512x512"}'
  return wrk.format("POST", "/v1/generations",
    { ["Authorization"] = next_key(), ["Content-Type"] = "application/json" }, body)
end
