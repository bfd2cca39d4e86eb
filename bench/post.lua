-- wrk script for uploads: every request is a POST with a body of `bytes` bytes (first script argument,
-- default 4096) and Content-Type application/octet-stream; wrk adds the Content-Length.
--
--   wrk -t1 -c100 -d5s --script bench/post.lua http://127.0.0.1:8080/upload -- 4096

function init(args)
  local bytes = tonumber(args[1]) or 4096
  wrk.method = "POST"
  wrk.body = string.rep("x", bytes)
  wrk.headers["Content-Type"] = "application/octet-stream"
end
