"""Errors of the security module, each with a stable code (never a key, PIN or component in a message)."""

from __future__ import annotations

from typing import Any

from sscard.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed


class SecurityModuleError(DomainError):
    code = "SECURITY_MODULE_ERROR"
    status = 500
    title = "The security module refused the operation."
    title_zh = "安全模块拒绝了该操作。"


class ProtectedDataInvalid(SecurityModuleError):
    code = "PROTECTED_DATA_INVALID"
    title = "A protected field failed its integrity check."
    title_zh = "受保护字段完整性校验失败。"


class KeystoreTampered(SecurityModuleError):
    """The sealed keystore file does not authenticate under the master key: never silently accepted."""

    code = "KEYSTORE_TAMPERED"
    title = "The keystore file has been altered or is damaged."
    title_zh = "密钥库文件已被篡改或损坏。"


class MasterKeyWrong(SecurityModuleError):
    code = "MASTER_KEY_WRONG"
    title = "The master key does not open this keystore."
    title_zh = "主密钥无法打开该密钥库。"


class MasterKeyRequired(SecurityModuleError):
    code = "MASTER_KEY_REQUIRED"
    title = "A master key is required (SSCARD_MASTER_KEY or an interactive prompt)."
    title_zh = "需要主密钥（SSCARD_MASTER_KEY 或交互输入）。"


class SuiteUnsupported(SecurityModuleError):
    code = "SUITE_UNSUPPORTED"
    title = "The security module backend does not provide this algorithm suite."
    title_zh = "安全模块后端不支持该算法套件。"


class HsmUnavailable(SecurityModuleError):
    code = "HSM_UNAVAILABLE"
    status = 503
    title = "The hardware security module cannot be reached."
    title_zh = "无法连接硬件安全模块。"


class KeyNotFound(NotFound):
    code = "KEY_NOT_FOUND"
    title = "No such key in the security module."
    title_zh = "安全模块中没有该密钥。"


class KeyVersionUnknown(ValidationFailed):
    """A caller named a key version that does not exist (e.g. a terminal with a stale key version)."""

    code = "KEY_VERSION_UNKNOWN"
    title = "The key version is unknown."
    title_zh = "密钥版本未知。"


class KeyRevoked(Forbidden):
    code = "KEY_REVOKED"
    title = "The key has been revoked."
    title_zh = "密钥已被撤销。"


class KeyRetired(Forbidden):
    code = "KEY_RETIRED"
    title = "The key version has been retired."
    title_zh = "该密钥版本已停用。"


class KeyExists(Conflict):
    code = "KEY_EXISTS"
    title = "A key with this label already exists."
    title_zh = "该标签的密钥已存在。"


class KeyNotExportable(Forbidden):
    code = "KEY_NOT_EXPORTABLE"
    title = "This key may not leave the security module."
    title_zh = "该密钥不得导出安全模块。"


class KeyUsageInvalid(ValidationFailed):
    """A key asked to do what its purpose does not allow (e.g. a data key as a transport key)."""

    code = "KEY_USAGE_INVALID"
    title = "The key may not be used for this operation."
    title_zh = "该密钥不能用于此操作。"


class KeyInputInvalid(ValidationFailed):
    code = "KEY_INPUT_INVALID"
    title = "The key request is not valid."
    title_zh = "密钥请求无效。"


class KcvMismatch(ValidationFailed):
    """A key or component does not match the key check value the caller stated (KEY-3, KEY-6)."""

    code = "KCV_MISMATCH"
    title = "The key check value does not match."
    title_zh = "密钥校验值不符。"


class PinBlockInvalid(ValidationFailed):
    """A PIN block that is truncated or does not decipher to a well-formed format-4 block."""

    code = "PIN_BLOCK_MALFORMED"
    title = "The PIN block is malformed."
    title_zh = "PIN 块格式错误。"

    def __init__(self, detail: str | None = None, *, reason: str = "format", **extra: Any) -> None:
        super().__init__(detail, reason=reason, **extra)


class CeremonyError(Conflict):
    code = "CEREMONY_INVALID"
    title = "The key ceremony cannot do that."
    title_zh = "密钥仪式无法执行该操作。"


class CeremonyNotFound(NotFound):
    code = "CEREMONY_NOT_FOUND"
    title = "No such key ceremony."
    title_zh = "没有该密钥仪式。"


class CeremonyNotOpen(CeremonyError):
    code = "CEREMONY_NOT_OPEN"
    title = "The key ceremony is not open."
    title_zh = "密钥仪式未处于进行状态。"


class CeremonySameCustodian(CeremonyError):
    """KEY-6 split knowledge: a custodian enters at most one component of a key."""

    code = "CEREMONY_SAME_CUSTODIAN"
    title = "This custodian has already entered a component."
    title_zh = "该保管员已录入过分量。"


class CeremonyIncomplete(CeremonyError):
    """KEY-6 dual control: components from at least two different custodians are needed."""

    code = "CEREMONY_INCOMPLETE"
    title = "The key ceremony needs components from more custodians."
    title_zh = "密钥仪式需要更多保管员的分量。"


class NotCustodian(Forbidden):
    code = "NOT_KEY_CUSTODIAN"
    title = "Only an authenticated key custodian may do this."
    title_zh = "只有经认证的密钥保管员可以执行此操作。"


class RotationInProgress(Conflict):
    code = "ROTATION_IN_PROGRESS"
    title = "A data-key rotation is in progress."
    title_zh = "数据密钥轮换正在进行。"


class DeviceNotCertified(SecurityModuleError):
    """KEY-4: the device the module runs on is not in the register, or its certificate is not valid.

    ``reason`` names the condition: ``device_not_configured``, ``device_serial_mismatch``,
    ``not_registered``, ``certificate_expired``, ``certificate_revoked``, ``certificate_not_yet_valid``,
    ``retired``, ``blocked`` (or the block's reason), ``register_unavailable``.
    """

    code = "DEVICE_NOT_CERTIFIED"
    status = 503
    title = "The security module's device is not a registered, certified and unexpired device."
    title_zh = "安全模块所在设备未登记、无有效型号证书或证书已过期。"

    def __init__(self, detail: str, *, reason: str, serial: str | None = None) -> None:
        super().__init__(detail, reason=reason, serial=serial)
        self.reason = reason
        self.serial = serial


class DualControlRequired(Forbidden):
    """KEY-6: the national root or a province key changes or leaves only under two custodians."""

    code = "DUAL_CONTROL_REQUIRED"
    title = "Two different authenticated key custodians are required for this key."
    title_zh = "该密钥操作须由两名不同的已认证密钥保管员共同完成。"
