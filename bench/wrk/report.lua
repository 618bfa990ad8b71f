-- Shared by the bench/run wrk scripts: loads API keys and prints one machine-readable RESULT line.
-- KEYS_FILE (one key a line) is read by every wrk thread; each thread starts at its own offset.

keys = {}
local keys_file = os.getenv("KEYS_FILE")
if keys_file and keys_file ~= "" then
  for line in io.lines(keys_file) do
    if line ~= "" then
      keys[#keys + 1] = "Bearer " .. line
    end
  end
end

local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("offset", thread_count * 7919)
end

counter = 0
-- The next key, round-robin from this thread's offset.
function next_key()
  counter = counter + 1
  return keys[((offset or 0) + counter) % #keys + 1]
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d rps=%.1f p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.requests / seconds, latency:percentile(50.0), latency:percentile(99.0),
    e.status, e.connect + e.read + e.write + e.timeout))
end
