-- wrk script for bench/serve.ts: GETs with a Range header, and a JSON summary line at the end.
--
--   wrk ... -s bench/random-range.lua URL -- <file size> <range length> <seed> <mode>
--
-- mode `random`: each request asks for <range length> bytes at an offset drawn uniformly from
--   [0, size - length] (unaligned), from LuaJIT's PRNG seeded with <seed> + the thread's number,
--   so every server gets the same sequence of ranges per wrk thread.
-- mode `aligned`: the same, offsets rounded down to a multiple of <range length>.
-- mode `sequential`: consecutive whole ranges from offset 0, wrapping at the end of the file
--   (a single stream reading the file through in large ranges).
-- No response() callback: defining one makes wrk collect every body, which would cost it more
-- CPU than the servers it measures.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("thread_number", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local size, length, mode, ranges
local next_index = 0

function init(args)
  size = tonumber(args[1])
  length = tonumber(args[2])
  local seed = tonumber(args[3] or "1")
  mode = args[4] or "random"
  if not size or not length or length < 1 or length > size then
    error("usage: -- <file size> <range length> <seed> <random|aligned|sequential>")
  end
  ranges = math.floor(size / length)
  math.randomseed(seed + thread_number)
  -- LuaJIT's first draws after seeding are poorly mixed: discard a few.
  for _ = 1, 10 do
    math.random()
  end
end

local function offset()
  if mode == "sequential" then
    local at = (next_index % ranges) * length
    next_index = next_index + 1
    return at
  end
  if mode == "aligned" then
    return math.floor(math.random() * ranges) * length
  end
  return math.floor(math.random() * (size - length + 1))
end

function request()
  local at = offset()
  -- %.0f: offsets pass 2^31, which %d does not print reliably in every Lua.
  local range = string.format("bytes=%.0f-%.0f", at, at + length - 1)
  return wrk.format("GET", nil, { Range = range })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%.0f,"bytes":%.0f,"duration_us":%.0f,' ..
      '"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f},' ..
      '"latency_us":{"min":%.0f,"mean":%.1f,"p50":%.0f,"p90":%.0f,"p99":%.0f,"p999":%.0f,"max":%.0f}}\n',
    summary.requests, summary.bytes, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
