-- POST /api/auth/sign-in/email as one fixed, existing user (each success creates a session).
-- wrk ... -s sign-in.lua http://HOST:PORT/api/auth/sign-in/email -- ORIGIN EMAIL PASSWORD
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
   wrk.method = "POST"
   common.headers(args[1], { ["Content-Type"] = "application/json" })
   wrk.body = '{"email":' .. common.json_string(args[2]) .. ',"password":' .. common.json_string(args[3]) .. '}'
end
