-- POST /v1/generations (local provider, 512x512, standard: 1.75 credits) with an API key per
-- request, round-robin over KEYS_FILE (1,000 accounts, or the one hot account's key).
dofile(os.getenv("WRK_DIR") .. "/report.lua")

local body = '{"model":"qwen-image","prompt":"a lighthouse at dusk","size":"512x512"}'

function request()
  return wrk.format("POST", "/v1/generations",
    { ["Authorization"] = next_key(), ["Content-Type"] = "application/json" }, body)
end
