-- wrk script: posts the pre-built signal bodies of the file named in BODIES (one JSON object per
-- line, a realistic campaign with distinct signal times) in order, so nothing is deduplicated away
-- unless the file runs out (then it starts over and the resends answer 200 duplicate).
local bodies = {}
local index = 0

function init(args)
  for line in io.lines(os.getenv("BODIES")) do
    if #line > 0 then bodies[#bodies + 1] = line end
  end
end

function request()
  index = index % #bodies + 1
  return wrk.format("POST", "/webhook", {["Content-Type"] = "application/json"}, bodies[index])
end

done = function(summary, latency, requests)
  io.write(string.format("requests %d, non-2xx %d, errors %d\n", summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
