-- wrk script: POST the JSON body in the file named by $WRK_BODY_FILE.
--   WRK_BODY_FILE=body.json wrk -s bench/post.lua -H "Authorization: Bearer ..." URL
local file = assert(io.open(assert(os.getenv("WRK_BODY_FILE"), "set WRK_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
