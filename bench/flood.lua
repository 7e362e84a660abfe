-- bench/flood.lua — wrk script used by bench/flood: a flood of wrong-password
-- sign-ins on POST /api/v1/login.
--
--   wrk -t2 -c64 -d10s -s bench/flood.lua http://127.0.0.1:PORTAL -- MODE USER
--
-- MODE "single": every attempt comes from wrk's own address (127.0.0.1), so
--   the per-IP throttle answers most of them with 429.
-- MODE "spoof": every attempt carries a random X-Forwarded-For, so with
--   Caddy's trusted_proxies covering 127.0.0.1 each looks like a new client
--   and reaches password hashing (401, or 503 when the hashing queue is full).
-- Half the attempts name USER (default "bench") with a wrong password, half
-- an unknown username. Statuses are counted per thread in response() and
-- printed by done() as one line:
--   FLOOD requests=N seconds=S s200=N s401=N s429=N s503=N other=N
--         connect_err=N read_err=N write_err=N timeouts=N

local threads = {}

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   mode = args[1] or "single"
   user = args[2] or "bench"
   s200, s401, s429, s503, other = 0, 0, 0, 0, 0
   n = 0
   math.randomseed(os.time() * 7919 + tid * 104729)
end

function request()
   n = n + 1
   local name = user
   if n % 2 == 0 then
      name = string.format("nobody-%d-%x", tid, math.random(0, 0xffffff))
   end
   local headers = { ["Content-Type"] = "application/json" }
   if mode == "spoof" then
      headers["X-Forwarded-For"] = string.format("%d.%d.%d.%d",
         math.random(11, 223), math.random(0, 255), math.random(0, 255), math.random(1, 254))
   end
   local body = string.format('{"username":"%s","password":"Wrong-Passw0rd-%d-%d"}', name, tid, n)
   return wrk.format("POST", "/api/v1/login", headers, body)
end

function response(status, headers, body)
   if status == 200 then
      s200 = s200 + 1
   elseif status == 401 then
      s401 = s401 + 1
   elseif status == 429 then
      s429 = s429 + 1
   elseif status == 503 then
      s503 = s503 + 1
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   local t = { s200 = 0, s401 = 0, s429 = 0, s503 = 0, other = 0 }
   for _, thread in ipairs(threads) do
      for k, _ in pairs(t) do
         t[k] = t[k] + (thread:get(k) or 0)
      end
   end
   local e = summary.errors
   io.write(string.format(
      "FLOOD requests=%d seconds=%.3f s200=%d s401=%d s429=%d s503=%d other=%d connect_err=%d read_err=%d write_err=%d timeouts=%d\n",
      summary.requests, summary.duration / 1e6, t.s200, t.s401, t.s429, t.s503, t.other,
      e.connect, e.read, e.write, e.timeout))
end
