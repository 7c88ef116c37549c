-- common.lua: helpers shared by hookd's wrk scripts (webhook.lua, get.lua,
-- mix.lua). Loaded with dofile() from the directory of the calling script.
--
-- What it gives the scripts:
--   * thread ids: setup(thread) numbers wrk's threads 1..T (thread:set("tid"))
--   * the thread count T: args, $HOOKD_THREADS, else wrk's own -t/--threads
--     read from /proc/self/cmdline (wrk does not tell Lua)
--   * load_slice(file, tid, T): this thread's disjoint share of a
--     `signature<TAB>body` file (lines tid, tid+T, tid+2T, ...)
--   * load_requests(script, args, tid): the init() of the scripts that send
--     webhooks: file from args[1] or $HOOKD_REQUESTS, T from args[2], the
--     slice, and the start barrier
--   * done(): machine-readable summary lines for scripts/bench.py:
--       HOOKD_WRK key=value key=value ...
--       HOOKD_WRK_THREAD tid=... lines=... issued=... wraps=... posts=... gets=...

local M = {}

M.threads = {}        -- main state: the thread objects, in creation order

-- wrk's thread count from its own command line (Linux).
local function cmdline_threads()
   local f = io.open("/proc/self/cmdline", "rb")
   if not f then return nil end
   local s = f:read("*a")
   f:close()
   local argv = {}
   for a in s:gmatch("([^%z]*)%z") do argv[#argv + 1] = a end
   local n = nil
   local i = 2
   while i <= #argv do
      local a = argv[i]
      if a == "--" then break end
      if a == "-t" or a == "--threads" then
         n = tonumber(argv[i + 1]); i = i + 1
      elseif a:match("^%-%-threads=") then
         n = tonumber(a:sub(11))
      elseif a:match("^%-t%d+$") then
         n = tonumber(a:sub(3))
      elseif a:match("^%-[cdsHT]$") or a:match("^%-%-[%a]+$") and a ~= "--latency" and a ~= "--version" then
         i = i + 1    -- option that takes a value
      end
      i = i + 1
   end
   return n
end

function M.nthreads(arg)
   local n = tonumber(arg or os.getenv("HOOKD_THREADS") or "") or cmdline_threads() or 1
   if n < 1 then n = 1 end
   return n
end

-- This thread's share of FILE: two arrays (signatures, bodies). The file
-- is read whole and only this thread's lines are copied out.
function M.load_slice(file, tid, nthreads)
   local f, err = io.open(file, "rb")
   if not f then
      io.stderr:write("hookd wrk: cannot open requests file: " .. tostring(err) .. "\n")
      os.exit(2)
   end
   local data = f:read("*a")
   f:close()
   local sigs, bodies, n, i = {}, {}, 0, 0
   local k = tid - 1
   local find, sub = string.find, string.sub
   local p, len = 1, #data
   while p <= len do
      local nl = find(data, "\n", p, true) or (len + 1)
      if i % nthreads == k then
         local tab = find(data, "\t", p, true)
         if tab and tab < nl then
            local e = nl - 1
            if sub(data, e, e) == "\r" then e = e - 1 end
            n = n + 1
            sigs[n] = sub(data, p, tab - 1)
            bodies[n] = sub(data, tab + 1, e)
         end
      end
      i = i + 1
      p = nl + 1
   end
   data = nil
   collectgarbage()
   if n == 0 then
      io.stderr:write("hookd wrk: thread " .. tid .. " got no requests from " .. file ..
                      " (" .. i .. " lines, " .. nthreads .. " threads)\n")
      os.exit(2)
   end
   return sigs, bodies, n
end

-- Start barrier. wrk runs each thread's init() on its main thread just
-- before starting that thread, so thread 1 would send alone while thread 2
-- still loads its share, and the head start would count as throughput.
-- The last thread's init() creates a marker file; every thread's first
-- real request() waits for it (at most 120 s). wrk calls thread 1's
-- request() once on its main thread to check the request format before any
-- thread starts: that call does not wait.
local function marker_path()
   local f = io.open("/proc/self/stat", "rb")
   local pid = f and f:read("*n") or 0
   if f then f:close() end
   return (os.getenv("TMPDIR") or "/tmp") .. "/hookd-wrk-" .. pid .. ".go"
end

local calls = 0

function M.setup(thread)
   if #M.threads == 0 then os.remove(marker_path()) end
   M.threads[#M.threads + 1] = thread
   thread:set("tid", #M.threads)
end

function M.arrive(tid, nthreads)
   if tid >= nthreads then
      local f = io.open(marker_path(), "wb")
      if f then f:close() end
   end
end

-- init() of webhook.lua and mix.lua. Returns tid, T, signatures, bodies, n.
function M.load_requests(script, args, tid)
   local file = args[1] or os.getenv("HOOKD_REQUESTS")
   if not file or file == "" then
      io.stderr:write(script .. ": give the requests file: -- FILE, or HOOKD_REQUESTS=FILE\n")
      os.exit(2)
   end
   local nthreads = M.nthreads(args[2])
   tid = tonumber(tid) or 1
   local sigs, bodies, n = M.load_slice(file, tid, nthreads)
   M.arrive(tid, nthreads)
   return tid, nthreads, sigs, bodies, n
end

-- Returns true once this thread may send (false for the format check).
function M.wait(tid)
   calls = calls + 1
   if tid == 1 and calls == 1 then return false end
   local path = marker_path()
   for _ = 1, 24000 do
      local f = io.open(path, "rb")
      if f then f:close() return true end
      os.execute("sleep 0.005")
   end
   io.stderr:write("hookd wrk: start barrier timed out (thread count wrong?)\n")
   return true
end

function M.cleanup()
   os.remove(marker_path())
end

-- One POST request, byte for byte what wrk.format("POST", path,
-- {["Content-Type"]="application/json", ["X-Signature"]=sig}, body) gives,
-- without wrk.format's per-call tables (it runs once per request).
function M.poster(path, host)
   local head = "POST " .. path .. " HTTP/1.1\r\nHost: " .. host ..
                "\r\nContent-Type: application/json\r\nX-Signature: "
   return function(sig, body)
      return head .. sig .. "\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body
   end
end

local function g(t, key)
   local v = t:get(key)
   return tonumber(v) or 0
end

function M.done(summary, latency, requests)
   M.cleanup()
   local e = summary.errors
   local socket_errors = e.connect + e.read + e.write + e.timeout
   io.write(string.format(
      "HOOKD_WRK requests=%d duration_us=%d bytes=%d non2xx=%d socket_errors=%d " ..
      "connect=%d read=%d write=%d timeout=%d " ..
      "p50_us=%.0f p90_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f mean_us=%.1f threads=%d\n",
      summary.requests, summary.duration, summary.bytes, e.status, socket_errors,
      e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max, latency.mean, #M.threads))
   local wraps, issued, posts, gets = 0, 0, 0, 0
   local mismatch = 0
   for _, t in ipairs(M.threads) do
      local w, iss = g(t, "wraps"), g(t, "issued")
      local nt = g(t, "nthreads")
      if nt > 0 and nt ~= #M.threads then mismatch = 1 end
      wraps, issued = wraps + w, issued + iss
      posts, gets = posts + g(t, "posts"), gets + g(t, "gets")
      io.write(string.format("HOOKD_WRK_THREAD tid=%d lines=%d issued=%d wraps=%d posts=%d gets=%d\n",
               g(t, "tid"), g(t, "nlines"), iss, w, g(t, "posts"), g(t, "gets")))
   end
   io.write(string.format("HOOKD_WRK_TOTAL issued=%d wraps=%d posts=%d gets=%d slices_ok=%d\n",
            issued, wraps, posts, gets, 1 - mismatch))
   if wraps > 0 then
      io.write(string.format("HOOKD_WRK_WARNING %d wrap(s): some requests were sent twice " ..
                             "(use a larger requests file)\n", wraps))
   end
   if mismatch == 1 then
      io.write("HOOKD_WRK_WARNING thread count detected wrongly: slices overlap " ..
               "(pass it: -- FILE THREADS or HOOKD_THREADS)\n")
   end
end

return M
