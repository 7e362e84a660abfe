-- bench/scale.lua — wrk script used by bench/scale: every request carries the
-- session cookie of a random session out of the whole seeded set, as a
-- uniform spread over all of them would (no per-session cache can help).
--
--   SCALE_TOKENS=FILE wrk -t2 -c64 -d10s -s bench/scale.lua URL
--
-- FILE holds one session token per line (written by bench/seed); the cookie
-- is gatehouse_session unless SCALE_COOKIE names another. The
-- plain route is measured with the same script, so both sides pay the same
-- cost in wrk for building requests.

function init(args)
   local file = os.getenv("SCALE_TOKENS") or error("SCALE_TOKENS is not set")
   local name = os.getenv("SCALE_COOKIE") or "gatehouse_session"
   tokens = {}
   for line in io.lines(file) do
      tokens[#tokens + 1] = name .. "=" .. line
   end
   if #tokens == 0 then
      error("no tokens in " .. file)
   end
   math.randomseed(os.time() + #tokens + math.floor(os.clock() * 1000000))
   headers = {}
end

function request()
   headers["Cookie"] = tokens[math.random(#tokens)]
   return wrk.format("GET", "/", headers)
end
