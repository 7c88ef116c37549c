-- webhook.lua: POST pre-signed webhooks to hookd with wrk.
--
--   scripts/gen_requests.py --count 1000000 --secret "$SECRET" --prefix run1 --out req.tsv
--   HOOKD_REQUESTS=req.tsv wrk -t2 -c64 -d10s -s scripts/wrk/webhook.lua http://127.0.0.1:8000/webhook
--   wrk -t2 -c64 -d10s -s scripts/wrk/webhook.lua http://127.0.0.1:8000/webhook -- req.tsv
--
-- Arguments after `--`: FILE [THREADS]. FILE is a gen_requests.py file
-- (`signature<TAB>body` lines; default $HOOKD_REQUESTS). THREADS defaults to
-- $HOOKD_THREADS, else wrk's -t. Each wrk thread sends its own disjoint share
-- of the lines (thread k of T: lines k, k+T, k+2T, ...) in order, so with
-- unique ids every request is a new message until a thread runs out of
-- lines; then it starts its share again (a "wrap": those requests are
-- duplicates) and done() reports how many wraps happened. The path is the
-- URL's ("/" means /webhook).
--
-- done() prints HOOKD_WRK... lines (see common.lua) for scripts/bench.py.

local dir = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./")
local common = dofile(dir .. "common.lua")

-- Thread-state globals (read by done() through thread:get).
tid, nthreads, nlines, issued, wraps, posts, gets = 0, 0, 0, 0, 0, 0, 0

local started = false
local sigs, bodies, pos, post

setup = common.setup

function init(args)
   tid, nthreads, sigs, bodies, nlines = common.load_requests("webhook.lua", args, tid)
   pos = 0
   local path = wrk.path
   if path == "/" or path == "" then path = "/webhook" end
   post = common.poster(path, wrk.headers["Host"])
end

function request()
   if not started then started = common.wait(tid) end
   pos = pos + 1
   if pos > nlines then
      pos = 1
      wraps = wraps + 1
   end
   issued = issued + 1
   posts = issued
   return post(sigs[pos], bodies[pos])
end

done = common.done
