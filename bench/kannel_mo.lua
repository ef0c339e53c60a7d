-- wrk script: Kannel get-url requests, each with its own message id (as Kannel sends them).
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end

function init(args)
  token = os.getenv("KANNEL_INBOUND_TOKEN") or "bench-token"
  run = os.getenv("BENCH_RUN") or "run"
end

function request()
  counter = counter + 1
  local path = "/channels/sms/kannel?token=" .. token ..
    "&from=%2B6281234567890&to=1708&coding=0&charset=UTF-8&smsc=bench" ..
    "&id=" .. run .. "-" .. tid .. "-" .. counter ..
    "&text=LAPOR%233271014505900002%23Siti+Aminah%23Jl.+Pajajaran+5%23jalan+berlubang+di+depan+sekolah"
  return wrk.format("GET", path)
end
