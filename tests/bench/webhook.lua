-- wrk script: every request is a distinct MARKET_DATA signal (a distinct second), round-robin over
-- the four instruments, so nothing is deduplicated away.  Set SECRET and START (epoch seconds).
local counter = 0
local thread_id = 0
local secret = os.getenv("SECRET")
local start = tonumber(os.getenv("START"))
local codes = {"GOLD_MINI", "SILVER_MINI", "COPPER", "BANK_NIFTY"}

function setup(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end

function request()
  counter = counter + 1
  local second = start + thread_id * 10000000 + counter
  local stamp = os.date("!%Y-%m-%dT%H:%M:%S+00:00", second)
  local body = string.format(
    '{"type":"MARKET_DATA","instrument":"%s","price":1000,"atr":10,"supertrend":990,"timestamp":"%s","secret":"%s"}',
    codes[counter % 4 + 1], stamp, secret)
  return wrk.format("POST", "/webhook", {["Content-Type"] = "application/json"}, body)
end

done = function(summary, latency, requests)
  io.write(string.format("requests %d, non-2xx %d, errors %d\n", summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
