"""Production start-up checks: ``SSCARD_ENV=prod`` refuses to start on development material.

``sscard serve`` and the app factory (``sscard.api.app:create_app``) call ``ensure_production_ready``
before serving. Every problem found is named, all at once, so an operator fixes them in one pass:

- a national root key generated for development (origin ``generated-dev``) in the security module;
- the security module's device (KEY-4) missing from the register of certified devices, or its model
  certificate expired, revoked or not yet valid (``security_module.device``; the module itself refuses key
  operations then, this names the condition at start-up);
- a development master key file (``<data>/keys/master.key``) next to the keystore;
- the soft keystore (``SSCARD_HSM=soft``) without ``SSCARD_ALLOW_SOFT_KEYSTORE=true``;
- the demo staff accounts (``sscard demo load``), or any active account whose password is the published
  demo password. Accounts carry a marker (``staff_account.demo_password``) set when the password is set
  (migration 0004 verified the hashes of existing accounts once), so this is one indexed query, not an
  Argon2 verification per account at every start;
- SMS or e-mail delivered to a local file sink (no gateway / relay configured, or a sink directory set):
  temporary passwords and holders' phone numbers would lie in clear in a file.
"""

from __future__ import annotations

from collections.abc import Callable

from sscard.config import Settings, get_settings

# At most this many usernames are named per problem (the count is always given).
NAMES_SHOWN = 10


class ProductionNotReady(RuntimeError):  # noqa: N818 - reads as the condition it reports
    """Raised (by the app factory) when production finds development material; lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"SSCARD_ENV=prod refuses to start ({len(problems)} problem(s)):\n{lines}")


def _named(usernames: list[str]) -> str:
    shown = ", ".join(usernames[:NAMES_SHOWN])
    return shown + (f" and {len(usernames) - NAMES_SHOWN} more" if len(usernames) > NAMES_SHOWN else "")


def _keystore_problems(settings: Settings) -> list[str]:
    from sscard.security_module import get_security_module
    from sscard.security_module.diversify import ROOT
    from sscard.security_module.errors import DeviceNotCertified, SecurityModuleError
    from sscard.security_module.hsm import HierarchyModule

    problems = []
    if settings.hsm == "soft" and not settings.allow_soft_keystore:
        problems.append(
            "the soft keystore (SSCARD_HSM=soft) holds keys in a file on this machine: use a certified "
            "cryptographic device (SSCARD_HSM=pkcs11, KEY-4) or accept it explicitly with "
            "SSCARD_ALLOW_SOFT_KEYSTORE=true"
        )
    master_file = settings.data_dir / "keys" / "master.key"
    if master_file.exists():
        problems.append(
            f"a development master key file exists at {master_file}: remove it and give the master key "
            "through SSCARD_MASTER_KEY or the prompt"
        )
    try:
        module = get_security_module()
    except DeviceNotCertified as exc:
        problems.append(_device_problem(exc.reason, exc.serial))
        return problems
    except SecurityModuleError as exc:
        problems.append(f"the security module cannot be opened ({exc.code}): the key checks could not run")
        return problems
    guard = getattr(module, "device_guard", None)
    if guard is None:
        problems.append(_device_problem("device_not_configured", None))
    else:
        reason = guard.problem(fresh=True)
        if reason is not None:
            problems.append(_device_problem(reason, guard.serial))
            return problems
    if isinstance(module, HierarchyModule) and module.has_root():
        dev = [v for v in module.describe(ROOT).versions.values() if v.origin == "generated-dev"]
        if dev:
            versions = ", ".join(str(v.version) for v in dev)
            problems.append(
                f"the national root key (version {versions}) was generated for development: start from a "
                "keystore whose root comes from `sscard keys init-root` or a key ceremony (KEY-1, KEY-6)"
            )
    return problems


def _device_problem(reason: str, serial: str | None) -> str:
    from sscard.security_module.device import describe

    return (
        f"the security module's device (serial {serial or 'unknown'}) may not hold or use keys "
        f"(DEVICE_NOT_CERTIFIED, {reason}): {describe(reason)}; register it with a valid model certificate "
        "and set SSCARD_HSM_DEVICE_SERIAL (KEY-4)"
    )


def _staff_problems() -> list[str]:
    from sqlalchemy import or_, select
    from sqlalchemy.exc import SQLAlchemyError

    from sscard.db.session import unit_of_work
    from sscard.demo.data import STAFF
    from sscard.staff.models import StaffAccount

    demo_names = sorted(s.username for s in STAFF)
    try:
        with unit_of_work() as uow:
            rows = uow.session.execute(
                select(StaffAccount.username, StaffAccount.demo_password)
                .where(
                    StaffAccount.active.is_(True),
                    or_(StaffAccount.username.in_(demo_names), StaffAccount.demo_password.is_(True)),
                )
                .order_by(StaffAccount.username)
            ).all()
    except SQLAlchemyError as exc:
        return [f"the staff accounts could not be checked ({type(exc).__name__}): is the database migrated?"]
    problems = []
    demo = [r.username for r in rows if r.username in demo_names]
    if demo:
        problems.append(
            f"{len(demo)} demo staff account(s) are active ({_named(demo)}): demo data is for development; "
            "deactivate them (sscard staff deactivate)"
        )
    published = [r.username for r in rows if r.demo_password]
    if published:
        problems.append(
            f"{len(published)} active staff account(s) have the published demo password ({_named(published)}): "
            "deactivate them or give them new passwords"
        )
    return problems


def _notify_problems() -> list[str]:
    from sscard.notify.senders.config import get_sender_settings

    s = get_sender_settings()
    problems = []
    if not s.sms_gateway_url:
        problems.append("SMS would be written to a local file sink: set SSCARD_SMS_GATEWAY_URL")
    if not s.smtp_host:
        problems.append("e-mail would be written to a local file sink: set SSCARD_SMTP_HOST")
    for name, value in (("SSCARD_SMS_SINK_DIR", s.sms_sink_dir), ("SSCARD_MAIL_SINK_DIR", s.mail_sink_dir)):
        if value is not None:
            problems.append(f"{name} configures a file sink for notifications: unset it")
    return problems


CHECKS: tuple[Callable[[Settings], list[str]], ...] = (
    _keystore_problems,
    lambda _settings: _staff_problems(),
    lambda _settings: _notify_problems(),
)


def device_warning(settings: Settings | None = None) -> str | None:
    """Outside prod: what prod would refuse about the security module's device (KEY-4), for the server's
    start (the banner, the app factory): said once per process and condition (``DeviceGuard.announce``),
    None after that, when the device is certified, in prod (refused there) or when nothing can be asked.
    A module without a guard (opened by a tool or a test) has no record to share: it is said each time."""
    from sscard.security_module import get_security_module

    settings = settings or get_settings()
    if settings.env == "prod":
        return None
    try:
        guard = getattr(get_security_module(), "device_guard", None)
    except Exception:  # noqa: BLE001 - a banner line: the server's own start says why the module cannot open
        return None
    reason = guard.announce() if guard is not None else "device_not_configured"
    return None if reason is None else _device_problem(reason, guard.serial if guard is not None else None)


def production_problems(settings: Settings | None = None) -> list[str]:
    """Every piece of development material found (empty outside prod, or when there is none)."""
    settings = settings or get_settings()
    if settings.env != "prod":
        return []
    problems: list[str] = []
    for check in CHECKS:
        problems += check(settings)
    return problems


def ensure_production_ready(settings: Settings | None = None) -> None:
    """Raise ``ProductionNotReady`` naming every problem when ``SSCARD_ENV=prod`` finds development material."""
    problems = production_problems(settings)
    if problems:
        raise ProductionNotReady(problems)
