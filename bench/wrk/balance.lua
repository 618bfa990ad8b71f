-- GET /v1/balance with an API key per request (round-robin over KEYS_FILE).
dofile(os.getenv("WRK_DIR") .. "/report.lua")

function request()
  return wrk.format("GET", "/v1/balance", { ["Authorization"] = next_key() })
end
