-- POST /api/auth/sign-up/email with a new email on every request.
-- wrk ... -s sign-up.lua http://HOST:PORT/api/auth/sign-up/email -- ORIGIN RUN_TAG
-- RUN_TAG keeps the warm-up's and the measured run's addresses apart on one server; each wrk thread gets its own
-- number in setup() and counts its requests, so no two requests of a run share an address.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("thread_no", threads)
end

local origin, tag, counter = nil, nil, 0
local headers = nil

function init(args)
   origin, tag = args[1], args[2]
   headers = common.headers(origin, { ["Content-Type"] = "application/json" })
end

function request()
   counter = counter + 1
   local email = string.format("u-%s-%d-%d@bench.example.com", tag, thread_no, counter)
   local body = '{"email":"' .. email .. '","password":"benchmark-password-1","name":"Bench User"}'
   return wrk.format("POST", nil, headers, body)
end
