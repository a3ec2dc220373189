-- wrk script of the check-in benchmark (bench/wrk.py writes its input and reads its output).
-- Input (args[1]): one request per line, "<token index>\t<JSON body>"; tokens in args[2], one
-- per line. Requests go out in file order; the answers are counted by status and error code,
-- and the ticket id of every 200 is kept. done() writes the tallies to args[3].

local thread_handle

function setup(thread)
  thread_handle = thread
end

function init(args)
  local tokens = {}
  for line in io.lines(args[2]) do tokens[#tokens + 1] = line end
  plan = {}
  for line in io.lines(args[1]) do
    local index, body = line:match("^(%d+)\t(.*)$")
    local headers = {["Content-Type"] = "application/json",
                     ["Authorization"] = "Bearer " .. tokens[tonumber(index) + 1]}
    plan[#plan + 1] = wrk.format("POST", "/api/checkin", headers, body)
  end
  sent, answers, admitted, planned, out_path = 0, {}, {}, #plan, args[3]
end

function request()
  sent = sent + 1
  if sent > #plan then
    wrk.thread:stop()
    return plan[#plan]
  end
  return plan[sent]
end

function response(status, headers, body)
  local code = body:match('"code"%s*:%s*"([%w_]+)"') or body:match('"result"%s*:%s*"([%w_]+)"')
  local key = status .. " " .. (code or "?")
  answers[key] = (answers[key] or 0) + 1
  if status == 200 then
    admitted[#admitted + 1] = body:match('"ticket"%s*:%s*{%s*"id"%s*:%s*(%d+)') or "?"
  end
end

function done(summary, latency, requests)
  local out = io.open(thread_handle:get("out_path"), "w")
  out:write("sent\t", math.min(thread_handle:get("sent"), thread_handle:get("planned")), "\n")
  out:write("duration_us\t", summary.duration, "\n")
  local e = summary.errors
  out:write("errors\t", e.connect + e.read + e.write + e.timeout, "\n")
  for _, p in ipairs({50, 95, 99}) do
    out:write("p", p, "_us\t", latency:percentile(p), "\n")
  end
  out:write("max_us\t", latency.max, "\n")
  out:write("mean_us\t", latency.mean, "\n")
  for key, n in pairs(thread_handle:get("answers")) do out:write("answer\t", key, "\t", n, "\n") end
  for _, id in ipairs(thread_handle:get("admitted")) do out:write("ticket\t", id, "\n") end
  out:close()
end
