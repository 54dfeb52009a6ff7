"""Domain errors: each carries a stable ``code``, an HTTP ``status`` and a human ``title``.

Services raise these; the API maps them once to RFC 9457 problem+json, the CLI to a one-line
reason, the pages to a translated message. Never put a PIN, password, key or full ID in ``detail``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    code: ClassVar[str] = "DOMAIN_ERROR"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "The request could not be processed."
    title_zh: ClassVar[str] = "请求无法处理。"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.title
        self.extra = extra
        super().__init__(self.detail)


class NotFound(DomainError):
    code = "NOT_FOUND"
    status = 404
    title = "Not found."
    title_zh = "未找到。"


class Conflict(DomainError):
    code = "CONFLICT"
    status = 409
    title = "Conflicts with the current state."
    title_zh = "与当前状态冲突。"


class ValidationFailed(DomainError):
    code = "VALIDATION_FAILED"
    status = 422
    title = "The input is not valid."
    title_zh = "输入无效。"


class Forbidden(DomainError):
    code = "FORBIDDEN"
    status = 403
    title = "Not allowed for this role or region."
    title_zh = "当前角色或地区无权执行此操作。"


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"
    status = 401
    title = "Authentication required."
    title_zh = "需要身份认证。"


class Throttled(DomainError):
    """Too many attempts from one account or source: wait ``retry_after`` seconds (also the ``Retry-After``)."""

    code = "THROTTLED"
    status = 429
    title = "Too many requests; wait before trying again."
    title_zh = "请求过多，请稍后再试。"

    def __init__(self, *, retry_after: int, **extra: Any) -> None:
        super().__init__(f"try again in {retry_after} seconds", retry_after=retry_after, **extra)


class DatabaseNotInitialised(DomainError):
    """The database has no schema yet (or, embedded, no file): ``sscard db upgrade`` creates it. Raised
    instead of creating an empty database (and a data directory) wherever a command happens to run."""

    code = "DATABASE_NOT_INITIALISED"
    status = 503
    title = "The database is not initialised."
    title_zh = "数据库尚未初始化。"

    def __init__(self, data_dir: object) -> None:
        super().__init__(f"database not initialised: run sscard db upgrade (data dir: {data_dir})")
