"""The demo pharmacy terminal: registered once, its key loaded into a local simulator profile.

Remote key loading runs in-process here exactly as over HTTP: a fresh P-256 key pair, the terminal
key sealed to it by the security module, opened by the SDK and written to the 0600 profile that
``sscard terminal echo --terminal T440304DEMO01`` uses.
"""

from __future__ import annotations

from pathlib import Path

from sscard.audit import Actor
from sscard.config import get_settings
from sscard.db.session import UnitOfWork
from sscard.security_module import get_security_module
from sscard.terminal.client import generate_enrollment_key, split_terminal_keys
from sscard.terminal.envelope import open_envelope, public_key_bytes
from sscard.terminal.profile import ProfileError, TerminalProfile, load_profile, save_profile
from sscard.terminal_registry.models import InstitutionType, Terminal
from sscard.terminal_registry.service import get_terminal, record_key_export, register_terminal, rekey_terminal

DEMO_TERMINAL_ID = "T440304DEMO01"
DEMO_INSTITUTION = "福田区民大药房（演示）"
DEMO_REGION = "440304"  # 深圳市福田区, one of the demo regions


def load_demo_terminals(uow: UnitOfWork, *, actor: Actor, profiles: Path | None = None) -> list[str]:
    """Register the demo pharmacy terminal if missing and make sure its profile holds its key.

    Idempotent: a second run changes nothing. Returns printable lines for the demo summary.
    """
    directory = profiles or get_settings().data_dir / "terminals"
    terminal = get_terminal(uow, DEMO_TERMINAL_ID)
    if terminal is not None and _profile_matches(terminal, directory):
        return [_line(terminal, directory)]
    key_pair = generate_enrollment_key()
    public_key = public_key_bytes(key_pair)
    if terminal is None:
        terminal = register_terminal(
            uow,
            institution_name=DEMO_INSTITUTION,
            institution_type=InstitutionType.PHARMACY,
            region_code=DEMO_REGION,
            public_key=public_key,
            suite=get_security_module().suite,
            actor=actor,
            terminal_id=DEMO_TERMINAL_ID,
        )
    else:
        # The profile is gone or stale: never re-send a key that was delivered once; move to a new version.
        terminal = rekey_terminal(uow, terminal_id=DEMO_TERMINAL_ID, public_key=public_key, actor=actor)
    profile = _load_key(terminal, key_pair, public_key, actor=actor, uow=uow)
    # The profile appears only if the registration commits.
    uow.after_commit(lambda: _save(profile, directory))
    return [_line(terminal, directory)]


def _load_key(
    terminal: Terminal, key_pair: object, public_key: bytes, *, actor: Actor, uow: UnitOfWork
) -> TerminalProfile:
    module = get_security_module()
    ref = {"terminal_id": terminal.terminal_id, "region_code": terminal.region_code}
    mac_kcv, pin_kcv = module.terminal_key_check_values(**ref, key_version=terminal.key_version)
    record_key_export(uow, terminal=terminal, kcvs=(mac_kcv, pin_kcv), actor=actor)
    envelope = module.export_terminal_key(**ref, key_version=terminal.key_version, recipient_public_key=public_key)
    keys = open_envelope(key_pair, envelope, terminal.terminal_id.encode("ascii"))  # type: ignore[arg-type]
    mac_key, pin_key = split_terminal_keys(keys)
    return TerminalProfile(
        terminal_id=terminal.terminal_id,
        suite=terminal.suite,
        key_version=terminal.key_version,
        mac_kcv=mac_kcv,
        pin_kcv=pin_kcv,
        region_code=terminal.region_code,
        institution=terminal.institution_name,
        institution_type=terminal.institution_type.value,
        api_url=get_settings().api_url,
        mac_key=mac_key,
        pin_key=pin_key,
    )


def _save(profile: TerminalProfile, directory: Path) -> None:
    save_profile(profile, directory)


def _profile_matches(terminal: Terminal, directory: Path) -> bool:
    try:
        profile = load_profile(terminal.terminal_id, directory)
    except ProfileError:
        return False
    return profile.key_version == terminal.key_version and profile.suite == terminal.suite


def _line(terminal: Terminal, directory: Path) -> str:
    return (
        f"{terminal.terminal_id}  {terminal.institution_name}  {terminal.region_code}  "
        f"{terminal.institution_type.value}  profile {directory / (terminal.terminal_id + '.json')}"
    )
