-- get.lua: GET one path of hookd with wrk, with the same machine-readable
-- summary as webhook.lua.
--
--   wrk -t2 -c64 -d10s -s scripts/wrk/get.lua 'http://127.0.0.1:8000/messages'
--   wrk -t2 -c64 -d10s -s scripts/wrk/get.lua http://127.0.0.1:8000 -- '/messages?from=%2B919876543210'
--
-- The path is the first argument after `--`, else $HOOKD_PATH, else the
-- URL's own path. The request is built once (wrk's static request).

local dir = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./")
local common = dofile(dir .. "common.lua")

tid, nthreads, nlines, issued, wraps, posts, gets = 0, 0, 0, 0, 0, 0, 0

setup = common.setup

function init(args)
   local path = args[1] or os.getenv("HOOKD_PATH")
   if path and path ~= "" then wrk.path = path end
end

done = common.done
