-- wrk script of the strata HTTP benchmark (bench/http_bench.py).
--
--   wrk ... -s kv.lua http://127.0.0.1:PORT -- MODE NKEYS VALUE_SIZE
--
-- MODE get:    GET /get/benchNNNNNNNN, keys rotating over 0..NKEYS-1
-- MODE set:    POST /set/benchNNNNNNNN with {"value":"vvv..."} (VALUE_SIZE
--              bytes), keys rotating the same way (overwrites)
-- MODE static: GET /_bench/static.json (the static-file ceiling)
--
-- Every mode builds its request in Lua, so the client costs the same in
-- each run and the ceilings compare like with like. Each wrk thread
-- starts at its own offset in the key space. Run from this directory:
-- report.lua is found by require().
local report = require("report")

local threads = {}

function setup(thread)
    thread:set("thread_index", #threads)
    table.insert(threads, thread)
end

local mode, nkeys, counter, body
local headers = {["Content-Type"] = "application/json"}

function init(args)
    mode = args[1] or "get"
    nkeys = tonumber(args[2] or "1000")
    local value_size = tonumber(args[3] or "100")
    body = '{"value":"' .. string.rep("v", value_size) .. '"}'
    -- thread_index is set by setup() in this thread's Lua state.
    counter = ((thread_index or 0) * 7919) % nkeys
end

function request()
    if mode == "static" then
        return wrk.format("GET", "/_bench/static.json")
    end
    counter = counter + 1
    if counter >= nkeys then
        counter = 0
    end
    local key = string.format("bench%08d", counter)
    if mode == "set" then
        return wrk.format("POST", "/set/" .. key, headers, body)
    end
    return wrk.format("GET", "/get/" .. key)
end

done = report.done
