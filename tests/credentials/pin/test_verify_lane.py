"""The PIN verify lane (api/pin_verify_lane.py) answers the batch's requests in front of the middleware
stack: its answers must carry what the stack gives every other answer (request id, metrics, error
boundary), and whatever it does not decide must meet the stack exactly as before."""

from __future__ import annotations

import pytest

from sscard.credentials.pin import batch_verify
from tests.credentials.pin.test_batch_verify import PIN, _audited, _enabled_card

VERIFY = "/api/v1/terminal/pin/verify"
# A region of its own: other modules change the initial PIN rule of theirs.
REGION = "150102"


def _count(client, status: int) -> float:
    prefix = f'sscard_http_requests_total{{method="POST",route="{VERIFY}",status="{status}"}}'
    lines = [line for line in client.get("/metrics").text.splitlines() if line.startswith(prefix)]
    return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0


# rule CH-4 (and the contract): a batch's answer carries the request id and is counted by route template
def test_an_answer_of_the_lane_carries_the_request_id_and_is_counted(client, terminal) -> None:
    pharmacy = terminal("pharmacy", REGION)
    card_no, card_id = _enabled_card(pharmacy, REGION)
    decided, counted = batch_verify.pin_verifier().items, _count(client, 200)

    def verify(request_id: str | None):
        body = {"card_no": card_no, "pin_block": pharmacy.pin_block(card_no, PIN)}
        request = pharmacy.build_request("POST", "/terminal/pin/verify", json_body=body)
        if request_id is not None:
            request.headers["X-Request-ID"] = request_id
        return client.send(request)

    echoed = verify("till-7.receipt-0042")
    assert echoed.status_code == 200 and echoed.json() == {
        "ok": True,
        "code": None,
        "pin_enabled": True,
        "tries_left": 6,
        "campaign_prompt": None,
    }
    assert echoed.headers["X-Request-ID"] == "till-7.receipt-0042"
    fresh = verify("not a sane id; <script>")
    assert fresh.status_code == 200 and len(fresh.headers["X-Request-ID"]) == 32
    assert "<" not in fresh.headers["X-Request-ID"]
    assert batch_verify.pin_verifier().items == decided + 2  # both went through the lane's batches
    assert _count(client, 200) == counted + 2
    assert _audited(card_id) == 2


# the input guard still answers a body no verify request has, with the stack's problem and request id
def test_a_body_too_large_for_the_lane_meets_the_stacks_guard(client, terminal) -> None:
    pharmacy = terminal("pharmacy", REGION)
    card_no, _ = _enabled_card(pharmacy, REGION)
    decided = batch_verify.pin_verifier().items
    padded = {"card_no": card_no, "pin_block": pharmacy.pin_block(card_no, PIN), "note": "x" * 5000}
    answer = pharmacy.build_request("POST", "/terminal/pin/verify", json_body=padded)
    response = client.send(answer)
    assert response.status_code in (401, 422)  # the route's own answer, not the lane's
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "X-Request-ID" in response.headers
    huge = client.post(VERIFY, content=b"{" + b" " * (1024 * 1024 + 1) + b"}",
                       headers={"content-type": "application/json"})  # fmt: skip
    assert huge.status_code == 413 and huge.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert batch_verify.pin_verifier().items == decided


# "never a 500 or traceback": an error in the lane becomes problem+json with a request id
def test_an_error_in_the_lane_is_a_problem_not_a_traceback(client, terminal, monkeypatch) -> None:
    pharmacy = terminal("pharmacy", REGION)
    card_no, _ = _enabled_card(pharmacy, REGION)
    errors = _count(client, 500)

    async def broken(self, item):
        raise RuntimeError("secret 802461 must not leak")

    monkeypatch.setattr(type(batch_verify.pin_verifier()), "submit", broken)
    body = {"card_no": card_no, "pin_block": pharmacy.pin_block(card_no, PIN)}
    response = client.send(pharmacy.build_request("POST", "/terminal/pin/verify", json_body=body))
    assert response.status_code == 500 and response.json()["code"] == "INTERNAL_ERROR"
    assert "802461" not in response.text and "Traceback" not in response.text
    assert "X-Request-ID" in response.headers
    assert _count(client, 500) == errors + 1


# rules PIN-5 CH-3: what happens after a batch's commit cannot undo its answers (its nonces are spent)
def test_a_failed_threshold_read_after_the_commit_leaves_the_batchs_answers_standing(
    db, client, terminal, monkeypatch
) -> None:
    if db.backend != "postgresql":
        pytest.skip("the threshold is read after the commit on PostgreSQL's driver path only")
    region = "150105"  # a region no batch has seen: its threshold is read after this batch's commit
    pharmacy = terminal("pharmacy", region)
    card_no, card_id = _enabled_card(pharmacy, region)
    thresholds = batch_verify.pin_verifier().thresholds
    thresholds.clear()

    def unreadable(*args, **kwargs):
        raise RuntimeError("the policy could not be read")

    monkeypatch.setattr(thresholds, "read", unreadable)
    decided = batch_verify.pin_verifier().items
    for _ in range(2):
        body = {"card_no": card_no, "pin_block": pharmacy.pin_block(card_no, PIN)}
        answer = client.send(pharmacy.build_request("POST", "/terminal/pin/verify", json_body=body))
        assert answer.status_code == 200 and answer.json()["ok"] is True, answer.text
    assert batch_verify.pin_verifier().items == decided + 2  # both batches committed
    assert _audited(card_id) == 2


# issue 17 item 11: the lane's own answers carry the same security headers as every /api/v1 answer
def test_an_answer_of_the_lane_carries_the_security_headers(client, terminal) -> None:
    pharmacy = terminal("pharmacy", REGION)
    card_no, _ = _enabled_card(pharmacy, REGION)
    decided = batch_verify.pin_verifier().items
    body = {"card_no": card_no, "pin_block": pharmacy.pin_block(card_no, PIN)}
    lane = client.send(pharmacy.build_request("POST", "/terminal/pin/verify", json_body=body))
    assert lane.status_code == 200 and batch_verify.pin_verifier().items == decided + 1  # the lane answered
    stack = client.get("/api/v1/health")
    for name in ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"):
        assert lane.headers[name] == stack.headers[name], name
    assert (
        lane.headers["Cache-Control"] == "no-store"
        and "frame-ancestors 'none'" in lane.headers["Content-Security-Policy"]
    )
