local r
function init(args) r = wrk.format("POST", "/bare", {["Content-Type"]="application/json", ["X-Terminal-Id"]="T1"}, '{"card_no":"A00000001","pin_block":"00112233445566778899aabbccddeeff"}') end
function request() return r end
