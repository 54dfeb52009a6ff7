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


# rule CH-1: the framework's own refusals (no such address, wrong method, invalid input, bad JSON) are
# titled in the caller's language too; the code stays the same (newcomer review: they stayed English)
def test_framework_refusal_titles_follow_accept_language(client) -> None:
    zh = {"Accept-Language": "zh-CN"}
    cases = [
        ("GET", "/api/v1/no-such-thing", {}, 404, "NOT_FOUND", "未找到。"),
        ("DELETE", "/api/v1/health", {}, 405, "METHOD_NOT_ALLOWED", "该资源不支持此请求方法。"),
        ("POST", "/api/v1/staff/login", {"json": {"username": 1}}, 422, "VALIDATION_FAILED", "输入无效。"),
        ("POST", "/api/v1/staff/login", {"content": b"{", "headers": {"content-type": "application/json"}}, 400,
         "MALFORMED_JSON", "请求体不是有效的 JSON。"),
    ]  # fmt: skip
    for method, path, kwargs, status, code, title_zh in cases:
        headers = kwargs.pop("headers", {})
        english = client.request(method, path, headers=headers, **kwargs)
        chinese = client.request(method, path, headers={**headers, **zh}, **kwargs)
        assert english.status_code == chinese.status_code == status, (path, english.text)
        assert english.json()["code"] == chinese.json()["code"] == code
        assert english.json()["title"].isascii()
        assert chinese.json()["title"] == title_zh and chinese.headers["content-language"] == "zh-CN"
