-- GET /api/auth/get-session (or /convex/token: the URL decides) with the session cookie a prior sign-up set.
-- wrk ... -s get-session.lua http://HOST:PORT/api/auth/get-session -- ORIGIN COOKIE
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
   wrk.method = "GET"
   common.headers(args[1], { ["Cookie"] = args[2] })
end
