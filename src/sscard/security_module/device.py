"""KEY-4 inside the security module: keys are held and used only on a registered, certified device.

"The device the module runs on" is identified by its serial number:

- the PKCS#11 backend: the serial the token itself reports (``CK_TOKEN_INFO.serialNumber``); when
  ``SSCARD_HSM_DEVICE_SERIAL`` is also set it must agree (``device_serial_mismatch`` otherwise), so a
  configuration cannot vouch for a different token;
- the soft backend: ``SSCARD_HSM_DEVICE_SERIAL`` (the machine the sealed keystore was accepted on;
  production also needs ``SSCARD_ALLOW_SOFT_KEYSTORE=true``, see ``startup``).

The serial (and ``SSCARD_HSM_DEVICE_MODEL`` when set) is looked up in the register of certified
devices (``sscard.key_register.devices``). The verdict is asked for when the module opens and then again
whenever the cached one is older than ``SSCARD_HSM_DEVICE_CHECK_SECONDS`` (default 60): every key
operation checks the cached verdict, so a certificate that lapses or is revoked while the process
runs is honoured within that time. With ``SSCARD_ENV=prod`` a bad verdict refuses the operation with
``DEVICE_NOT_CERTIFIED`` naming the condition; in dev and test it is logged once per condition.
A register that cannot be read counts as a bad verdict (``register_unavailable``): production fails
closed.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import structlog

from sscard.security_module.errors import DeviceNotCertified

log = structlog.get_logger("sscard.security")

DEFAULT_CHECK_SECONDS = 60.0
# A serial -> the register's reason the device may not hold keys, or None when it may.
RegisterLookup = Callable[[str], "str | None"]

_WHY = {
    "device_not_configured": "no device serial is known: set SSCARD_HSM_DEVICE_SERIAL (the registered device)",
    "device_serial_mismatch": "the token reports a serial other than SSCARD_HSM_DEVICE_SERIAL",
    "not_registered": "the device is not in the register of certified cryptographic devices",
    "serial_ambiguous": "several registered devices have this serial: set SSCARD_HSM_DEVICE_MODEL",
    "certificate_expired": "the device's model certificate has expired",
    "certificate_revoked": "the device's model certificate was revoked",
    "certificate_not_yet_valid": "the device's model certificate is not valid yet",
    "retired": "the device is retired",
    "register_unavailable": "the register of certified devices could not be read",
}


def describe(reason: str) -> str:
    return _WHY.get(reason, f"the device is blocked ({reason})")


class DeviceGuard:
    """The cached verdict on the module's device; ``check()`` refuses (prod) or warns once (dev/test)."""

    def __init__(
        self,
        *,
        lookup: RegisterLookup,
        configured_serial: str | None,
        reported_serial: str | None = None,
        enforce: bool,
        warn: bool = True,
        check_seconds: float = DEFAULT_CHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lookup = lookup
        self.configured_serial = (configured_serial or "").strip() or None
        self.reported_serial = (reported_serial or "").strip() or None
        self.enforce = enforce
        self.warn = warn
        self.check_seconds = check_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._verdict: str | None = None
        self._until = -math.inf
        self._warned: set[str] = set()
        self._announced: set[str] = set()

    @property
    def serial(self) -> str | None:
        return self.reported_serial or self.configured_serial

    def _ask(self) -> str | None:
        if self.reported_serial and self.configured_serial and self.reported_serial != self.configured_serial:
            return "device_serial_mismatch"
        serial = self.serial
        if serial is None:
            return "device_not_configured"
        try:
            return self.lookup(serial)
        except Exception as exc:  # noqa: BLE001 - any failure to read the register: fail closed
            log.error("security.device.register_unavailable", error=type(exc).__name__)
            return "register_unavailable"

    def problem(self, *, fresh: bool = False) -> str | None:
        """The reason the device may not hold or use keys now (cached for ``check_seconds``), or None."""
        now = self.clock()
        if fresh or now >= self._until:
            with self._lock:
                if fresh or now >= self._until:
                    self._verdict = self._ask()
                    self._until = now + self.check_seconds
        return self._verdict

    def announce(self) -> str | None:
        """The condition a process start announces outside prod (KEY-4), asked afresh: its reason the first
        time it is asked for, then None. The module, and so its guard, is one per process: the
        ``sscard serve`` banner and the app factory that Uvicorn then runs in the same process share this
        record, so a development server says it once however it was started."""
        reason = self.problem(fresh=True)
        if reason is None:
            return None
        with self._lock:
            if reason in self._announced:
                return None
            self._announced.add(reason)
        return reason

    def check(self) -> None:
        """Refuse (``DEVICE_NOT_CERTIFIED``) in prod, warn once per condition elsewhere."""
        reason = self.problem()
        if reason is None or not (self.enforce or (self.warn and reason not in self._warned)):
            return  # certified, or warned already: asked on every key use, so nothing more is done here
        detail = f"{describe(reason)} (device serial {self.serial or 'unknown'}; KEY-4)"
        if self.enforce:
            raise DeviceNotCertified(detail, reason=reason, serial=self.serial)
        if self.warn and reason not in self._warned:
            self._warned.add(reason)
            # Outside prod: one warning per condition and process (it would be refused in prod). A
            # development installation (``warn=False``) hears it once from ``sscard serve`` instead.
            log.warning("security.device.not_certified", reason=reason, serial=self.serial, detail=detail)
