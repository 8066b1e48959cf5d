-- wrk script of the strata soak run (tests/soak/soak.py): a random mix of
-- GET, SET, DELETE (and, on lsm, /range) over a bounded key space.
--
--   wrk ... -s mixed.lua http://127.0.0.1:PORT -- NKEYS VALUE_MAX \
--       GET_PCT SET_PCT DELETE_PCT [RANGE_PCT]
--
-- Each request picks a key soakNNNNNNNN uniformly from 0..NKEYS-1 and an
-- operation by the percentages (they should add up to 100; the rest, if
-- any, goes to GET). A SET writes {"value":"vvv..."} of 1..VALUE_MAX
-- bytes, so that the allocator sees many sizes. A range asks for
-- /range?start=KEY&limit=10.
--
-- Every response is classified here, since wrk counts any status >= 400
-- as an error and a GET or DELETE of a key that is not there rightly
-- answers 404:
--   ok        2xx
--   notfound  404 with the worker's body {"error":"key not found"}: only
--             GET and DELETE can answer it (a SET never looks a key up;
--             nginx's own 404 for an unknown path has another body)
--   bad       anything else; the first few are kept as "status body"
-- At the end one line "strata-mixed ok=.. notfound=.. bad=.. gets=..
-- sets=.. deletes=.. ranges=.. first_bad=..." is printed (first_bad URL-
-- quoted, "-" when none), then report.lua's "strata-wrk ..." line with
-- the request count and the socket errors. Run from this directory:
-- report.lua is found by require().
local report = require("report")

local threads = {}

function setup(thread)
    thread:set("thread_index", #threads)
    table.insert(threads, thread)
end

local nkeys, value_max, p_get, p_set, p_del, p_range, filler
local headers = {["Content-Type"] = "application/json"}

-- Per thread (each thread has its own Lua state); read in done().
ok, notfound, bad = 0, 0, 0
gets, sets, deletes, ranges = 0, 0, 0, 0
first_bad = ""

function init(args)
    nkeys = tonumber(args[1] or "10000")
    value_max = tonumber(args[2] or "256")
    p_get = tonumber(args[3] or "50")
    p_set = tonumber(args[4] or "40")
    p_del = tonumber(args[5] or "10")
    p_range = tonumber(args[6] or "0")
    filler = string.rep("v", value_max)
    -- thread_index is set by setup() in this thread's Lua state.
    math.randomseed(os.time() + 7919 * (thread_index or 0))
end

function request()
    local key = string.format("soak%08d", math.random(0, nkeys - 1))
    local dice = math.random(1, 100)
    if dice <= p_set then
        sets = sets + 1
        local body = '{"value":"' ..
            string.sub(filler, 1, math.random(1, value_max)) .. '"}'
        return wrk.format("POST", "/set/" .. key, headers, body)
    end
    dice = dice - p_set
    if dice <= p_del then
        deletes = deletes + 1
        return wrk.format("DELETE", "/delete/" .. key)
    end
    dice = dice - p_del
    if dice <= p_range then
        ranges = ranges + 1
        return wrk.format("GET", "/range?start=" .. key .. "&limit=10")
    end
    gets = gets + 1
    return wrk.format("GET", "/get/" .. key)
end

function response(status, headers, body)
    if status >= 200 and status < 300 then
        ok = ok + 1
    elseif status == 404 and body and
        string.find(body, '"key not found"', 1, true) then
        notfound = notfound + 1
    else
        bad = bad + 1
        if #first_bad < 200 then
            first_bad = first_bad .. status .. " " ..
                string.sub(body or "", 1, 120) .. "; "
        end
    end
end

local function quote(s)
    if s == "" then
        return "-"
    end
    return (string.gsub(s, "[^%w%-%._~]", function(c)
        return string.format("%%%02X", string.byte(c))
    end))
end

function done(summary, latency, requests)
    local t = {ok = 0, notfound = 0, bad = 0, gets = 0, sets = 0,
               deletes = 0, ranges = 0}
    local fb = ""
    for _, thread in ipairs(threads) do
        for name, _ in pairs(t) do
            t[name] = t[name] + (thread:get(name) or 0)
        end
        fb = fb .. (thread:get("first_bad") or "")
    end
    io.write(string.format(
        "strata-mixed ok=%d notfound=%d bad=%d gets=%d sets=%d deletes=%d " ..
        "ranges=%d first_bad=%s\n",
        t.ok, t.notfound, t.bad, t.gets, t.sets, t.deletes, t.ranges,
        quote(fb)))
    report.done(summary, latency, requests)
end
