"""Terminal errors with stable codes. The three refusal codes are fixed by contract.md."""

from __future__ import annotations

from sscard.errors import Conflict, NotFound, Throttled, Unauthenticated, ValidationFailed


class TerminalUnknown(Unauthenticated):
    # Unknown, blocked and retired terminals get the same answer: a caller learns nothing about ids.
    code = "TERMINAL_UNKNOWN"
    title = "The terminal is not registered or not active."
    title_zh = "终端未登记或未启用。"


class MacInvalid(Unauthenticated):
    code = "MAC_INVALID"
    title = "The request MAC does not verify."
    title_zh = "请求报文鉴别码校验失败。"


class Replay(Unauthenticated):
    code = "REPLAY"
    title = "The request is a replay or its timestamp is outside the accepted window."
    title_zh = "请求重放或时间戳超出允许范围。"


class TerminalNotFound(NotFound):
    code = "TERMINAL_NOT_FOUND"
    title = "No such terminal."
    title_zh = "终端不存在。"


class TerminalExists(Conflict):
    code = "TERMINAL_EXISTS"
    title = "A terminal with that id is already registered."
    title_zh = "该终端编号已登记。"


class TerminalStateConflict(Conflict):
    code = "TERMINAL_STATE"
    title = "The terminal's status does not allow this."
    title_zh = "终端当前状态不允许此操作。"


class TerminalPublicKeyInvalid(ValidationFailed):
    code = "TERMINAL_PUBLIC_KEY_INVALID"
    title = "The terminal public key is not a base64 uncompressed P-256 point."
    title_zh = "终端公钥不是Base64编码的P-256非压缩点。"


class PinBlockMalformed(ValidationFailed):
    """Server-side face of ``sscard.terminal.PinBlockError`` (truncated, wrong format, bad fill)."""

    code = "PIN_BLOCK_MALFORMED"
    title = "The PIN block is malformed."
    title_zh = "PIN块格式错误。"


class TerminalThrottled(Throttled):
    """Too many refused terminal requests from one source address in the window (issue 17 item 10)."""

    code = "TERMINAL_THROTTLED"
    title = "Too many refused terminal requests from this source; wait before trying again."
    title_zh = "该来源被拒绝的终端请求过多，请稍后再试。"
