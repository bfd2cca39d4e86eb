-- wrk script for HTTP/1.1 pipelining: every write to a connection carries `depth` requests
-- (first script argument, default 16), and wrk waits for all their responses before writing again.
-- Requests/sec then counts responses, as without pipelining.
--
--   wrk -t1 -c100 -d5s --script bench/pipeline.lua http://127.0.0.1:8080/ -- 16

local batch

function init(args)
  local depth = tonumber(args[1]) or 16
  local requests = {}
  for i = 1, depth do
    -- wrk.format(nil) builds one request from wrk.method, wrk.path (taken from the URL) and wrk.headers.
    requests[i] = wrk.format(nil)
  end
  batch = table.concat(requests)
end

function request()
  return batch
end
