"""Problem titles in the caller's language (issue 16 review: every title_zh existed, none was sent)."""

from __future__ import annotations


# rule CH-1 (every channel in the caller's language): a domain error's title follows Accept-Language;
# the code stays the same
def test_domain_error_title_follows_accept_language(client) -> None:
    body = {"username": "nobody_here", "password": "wrong password here"}
    english = client.post("/api/v1/staff/login", json=body)
    chinese = client.post("/api/v1/staff/login", json=body, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert english.json()["code"] == chinese.json()["code"] == "INVALID_CREDENTIALS"
    assert english.json()["title"].isascii()
    assert chinese.json()["title"] == "用户名或密码错误。" and chinese.headers["content-language"] == "zh-CN"
    preferred_en = client.post("/api/v1/staff/login", json=body, headers={"Accept-Language": "zh;q=0.5, en"})
    assert preferred_en.json()["title"] == english.json()["title"]
