"""Key-management errors (KEY-4, KEY-5, KEY-7, KEY-8, KEY-9), each with a stable code."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sscard.errors import Conflict, Forbidden, NotFound, ValidationFailed

if TYPE_CHECKING:
    from sscard.db.session import UnitOfWork


class KeysInvalid(ValidationFailed):
    code = "KEYS_INVALID"
    title = "The key-management input is not valid."
    title_zh = "密钥管理输入无效。"


class DeviceNotFound(NotFound):
    code = "DEVICE_NOT_FOUND"
    title = "No such cryptographic device."
    title_zh = "密码设备不存在。"


class DeviceExists(Conflict):
    code = "DEVICE_EXISTS"
    title = "A device with this model and serial is already registered."
    title_zh = "该型号和序列号的设备已登记。"


class DeviceNotUsable(Conflict):
    """KEY-4: no key may be placed on or used by a device whose certificate is not valid."""

    code = "DEVICE_NOT_USABLE"
    title = "The device may not hold or use keys."
    title_zh = "该设备不得存放或使用密钥。"

    def __init__(self, detail: str, *, device_id: int, reason: str, check_at: datetime | None = None) -> None:
        super().__init__(detail, device_id=device_id, reason=reason)
        self.device_id = device_id
        self.reason = reason
        self.check_at = check_at

    def after_rollback(self, uow: UnitOfWork) -> None:
        """Block the device and alert, in the refusal's own transaction (see ``api.refusals``)."""
        if self.check_at is not None:
            from sscard.key_register.devices import block_after_refusal

            block_after_refusal(uow, device_id=self.device_id, at=self.check_at)


class CarrierNotFound(NotFound):
    code = "CARRIER_NOT_FOUND"
    title = "No such key carrier."
    title_zh = "密钥载体不存在。"


class CarrierExists(Conflict):
    code = "CARRIER_EXISTS"
    title = "A carrier with this type and serial, or this receipt number, is already registered."
    title_zh = "该类型和序列号的载体或该签收单号已登记。"


class CarrierIllegalTransition(Conflict):
    """KEY-5: the carrier's state does not allow this step; names the from and to states."""

    code = "CARRIER_ILLEGAL_TRANSITION"
    title = "The carrier's state does not allow this operation."
    title_zh = "密钥载体当前状态不允许此操作。"

    def __init__(self, from_state: str, to_state: str, event: str, **extra: Any) -> None:
        super().__init__(
            f"cannot {event.replace('_', ' ')}: a carrier cannot go from {from_state} to {to_state}",
            from_state=from_state,
            to_state=to_state,
            **extra,
        )
        self.from_state = from_state
        self.to_state = to_state


class CarrierNotUsable(Conflict):
    code = "CARRIER_NOT_USABLE"
    title = "The carrier cannot be used in its current state."
    title_zh = "密钥载体当前状态不可使用。"


class NotPsam(Conflict):
    code = "CARRIER_NOT_PSAM"
    title = "This operation applies to PSAM cards only."
    title_zh = "此操作仅适用于PSAM卡。"


class DestructionNotFound(NotFound):
    code = "DESTRUCTION_NOT_FOUND"
    title = "No such destruction record."
    title_zh = "销毁记录不存在。"


class DuplicateSignature(Conflict):
    """KEY-8: a witnessed destruction needs two signatures by two different people."""

    code = "SIGNATURE_DUPLICATE"
    title = "The same person cannot sign twice."
    title_zh = "同一人不能重复签字。"


class DestructionClosed(Conflict):
    code = "DESTRUCTION_CLOSED"
    title = "This destruction record is already complete."
    title_zh = "该销毁记录已完成。"


class SelfApproval(Forbidden):
    code = "SELF_APPROVAL"
    title = "You cannot approve your own request."
    title_zh = "不能审批本人提交的申请。"


class DocumentInvalid(ValidationFailed):
    code = "DOCUMENT_INVALID"
    title = "The document is not acceptable."
    title_zh = "文件不符合要求。"


class DocumentNotFound(NotFound):
    code = "DOCUMENT_NOT_FOUND"
    title = "No such document."
    title_zh = "文件不存在。"


class DocumentTampered(Conflict):
    code = "DOCUMENT_TAMPERED"
    title = "The stored document does not match its checksum."
    title_zh = "存档文件与其校验值不符。"


class HandoverNotFound(NotFound):
    code = "HANDOVER_NOT_FOUND"
    title = "No such handover."
    title_zh = "交接记录不存在。"


class HandoverIllegalTransition(Conflict):
    code = "HANDOVER_ILLEGAL_TRANSITION"
    title = "The handover's state does not allow this operation."
    title_zh = "交接当前状态不允许此操作。"


class HandoverIncomplete(Conflict):
    """KEY-7: the handover lacks one of its four conditions; ``missing`` names them."""

    code = "HANDOVER_INCOMPLETE"
    title = "The handover cannot complete before all its conditions are met."
    title_zh = "交接条件未全部满足，不能完成交接。"

    def __init__(self, missing: list[str]) -> None:
        super().__init__(f"missing: {', '.join(missing)}", missing=missing)
        self.missing = missing


class NotSupervisor(Forbidden):
    code = "NOT_SUPERVISOR"
    title = "Only the assigned supervisor may record supervision."
    title_zh = "只有指定的监督人员才能记录监督情况。"


class StaffNotEligible(Conflict):
    code = "STAFF_NOT_ELIGIBLE"
    title = "That staff member cannot take this part."
    title_zh = "该工作人员不能担任此职责。"


class PlanNotFound(NotFound):
    code = "PLAN_NOT_FOUND"
    title = "No emergency plan for this region."
    title_zh = "该地区没有应急预案。"


class IncidentNotFound(NotFound):
    code = "INCIDENT_NOT_FOUND"
    title = "No such security incident."
    title_zh = "安全事件不存在。"


class IncidentIllegalTransition(Conflict):
    code = "INCIDENT_ILLEGAL_TRANSITION"
    title = "The incident's state does not allow this operation."
    title_zh = "安全事件当前状态不允许此操作。"


class IncidentCauseRequired(Conflict):
    """KEY-9: an incident closes only with a recorded cause and handling."""

    code = "INCIDENT_CAUSE_REQUIRED"
    title = "An incident closes only with a recorded cause and handling."
    title_zh = "安全事件须记录原因和处理情况后方可结案。"


class IncidentMeasuresPending(Conflict):
    code = "INCIDENT_MEASURES_PENDING"
    title = "Some measures of this incident are not done yet."
    title_zh = "该安全事件尚有处置措施未完成。"

    def __init__(self, pending: list[str]) -> None:
        super().__init__(f"pending: {', '.join(pending)}", pending=pending)


class MeasureNotFound(NotFound):
    code = "MEASURE_NOT_FOUND"
    title = "No such incident measure."
    title_zh = "处置措施不存在。"


class ReportInvalid(ValidationFailed):
    code = "REPORT_INVALID"
    title = "The report request is not valid."
    title_zh = "报表请求无效。"
