-- GET /api/auth/ok: the cheapest endpoint, the floor of each server's per-request cost.
-- wrk ... -s ok.lua http://HOST:PORT/api/auth/ok -- ORIGIN
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
   wrk.method = "GET"
   common.headers(args[1])
end
