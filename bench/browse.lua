-- wrk: the mixed browse workload, round robin over a file of distinct request paths (bench/scenario-browse.sh).
-- Env: URLS (file, one path per line); FILES=1 asks for the n-th answer as the file /b/<n>.json instead (the
-- nginx baseline serving the same bytes). Each wrk thread starts at its own offset.
local paths = {}
local i = 0

function setup(thread)
  thread:set("offset", math.random(1, 1000000))
end

function init(args)
  local files = os.getenv("FILES") == "1"
  local n = 0
  for line in io.lines(os.getenv("URLS")) do
    n = n + 1
    paths[n] = files and ("/b/" .. n .. ".json") or line
  end
  i = offset or 0
end

function request()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
