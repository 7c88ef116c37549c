-- mix.lua: 80% unique signed webhooks, 20% reads, with wrk.
--
--   HOOKD_REQUESTS=req.tsv wrk -t2 -c64 -d10s -s scripts/wrk/mix.lua http://127.0.0.1:8000
--   wrk ... -s scripts/wrk/mix.lua http://127.0.0.1:8000 -- req.tsv [THREADS [READ_PATH]]
--
-- Every 5th request of a connection's thread is GET READ_PATH (default
-- $HOOKD_READ_PATH, else /messages); the others are POST /webhook, taken
-- from the thread's disjoint share of FILE exactly as webhook.lua does
-- (wraps counted). done() also reports how many of each were issued
-- (HOOKD_WRK_TOTAL posts=... gets=...).

local dir = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./")
local common = dofile(dir .. "common.lua")

tid, nthreads, nlines, issued, wraps, posts, gets = 0, 0, 0, 0, 0, 0, 0

local started = false
local sigs, bodies, pos, post, get_req, n

setup = common.setup

function init(args)
   tid, nthreads, sigs, bodies, nlines = common.load_requests("mix.lua", args, tid)
   pos, n = 0, 0
   post = common.poster("/webhook", wrk.headers["Host"])
   local rpath = args[3] or os.getenv("HOOKD_READ_PATH") or "/messages"
   get_req = wrk.format("GET", rpath, {}, nil)
end

function request()
   if not started then started = common.wait(tid) end
   issued = issued + 1
   n = n + 1
   if n == 5 then
      n = 0
      gets = gets + 1
      return get_req
   end
   pos = pos + 1
   if pos > nlines then
      pos = 1
      wraps = wraps + 1
   end
   posts = posts + 1
   return post(sigs[pos], bodies[pos])
end

done = common.done
