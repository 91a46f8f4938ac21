-- wrk script for the "5 sequential plain requests" side of the aggregate
-- scenario: each request asks for the next of the aggregate's five backend
-- paths through the gateway's plain route, so every connection sends them
-- one after another, never two at once. Five times the mean latency of the
-- run is then the mean time a client takes to make the five calls itself.
-- The done() hook that prints the BENCH line comes from report.lua.
dofile("bench/report.lua")

local paths = { "/slow/5ms", "/slow/10ms", "/slow/15ms", "/slow/20ms", "/slow/25ms" }
local requests = nil
local next_path = 0

request = function()
   -- Built on first use: wrk fills in the Host header only after the
   -- script's top level has run.
   if requests == nil then
      requests = {}
      for i, p in ipairs(paths) do
         requests[i] = wrk.format("GET", p)
      end
   end
   next_path = next_path % #requests + 1
   return requests[next_path]
end
