"""The soft backend's sealed keystore and its master key (the embedded default)."""

from __future__ import annotations

import base64
import os
import stat

import pytest

from sscard.config import Settings
from sscard.security_module.errors import KeystoreTampered, MasterKeyRequired, MasterKeyWrong, SuiteUnsupported
from sscard.security_module.factory import KEYSTORE, open_security_module, open_soft_module, suite_for
from tests.conftest import dev_env


def test_keystore_is_sealed(tmp_path) -> None:
    with dev_env():
        module = open_soft_module(tmp_path, suite="sm", master_key="correct horse", dev_root=True)
    token = module.encrypt_field(b"110105194912310021", context=b"c")
    raw = (tmp_path / KEYSTORE).read_bytes()
    magic, header, body = raw.split(b"\n")[:3]
    assert magic == b"SSCARD-KEYSTORE-1"
    # The directory travels only as ciphertext: the body is base64 (not JSON), and neither the clear
    # header nor the decoded ciphertext holds a label or a metadata field. (Searching the base64 text
    # itself was flaky: ~3,000 random base64 characters contain "PVK" about 2 % of the time.)
    sealed = base64.b64decode(body, validate=True)
    for clear in (b"ROOT", b"DATA", b"PVK", b"held", b"kcv"):  # labels and metadata are sealed too
        assert clear not in header and b'"' + clear not in sealed
    assert stat.S_IMODE(os.stat(tmp_path / KEYSTORE).st_mode) == 0o600
    again = open_soft_module(tmp_path, suite="sm", master_key="correct horse")
    assert again.decrypt_field(token, context=b"c") == b"110105194912310021"


@pytest.mark.parametrize("where", ["body", "header", "truncate", "magic"])
def test_tampered_keystore_is_refused(tmp_path, where: str) -> None:
    # rule KEY-3 — a keystore whose bytes changed is never silently accepted
    open_soft_module(tmp_path, suite="intl", master_key="m")
    path = tmp_path / KEYSTORE
    raw = bytearray(path.read_bytes())
    if where == "body":
        i = len(raw) - 20
        raw[i] = ord("A") if raw[i] != ord("A") else ord("B")
    elif where == "header":  # the nonce is authenticated data of the seal
        i = bytes(raw).index(b'"nonce":"') + len(b'"nonce":"')
        raw[i] = ord("f") if raw[i] != ord("f") else ord("e")
    elif where == "truncate":
        raw = raw[: len(raw) // 2]
    else:
        raw[0:6] = b"XXXXXX"
    path.write_bytes(bytes(raw))
    with pytest.raises(KeystoreTampered) as err:
        open_soft_module(tmp_path, suite="intl", master_key="m")
    assert err.value.code == "KEYSTORE_TAMPERED"


def test_a_keystore_sealed_under_other_scrypt_parameters_is_resealed_under_the_current(tmp_path, monkeypatch) -> None:
    """A keystore sealed under other parameters (an older SCRYPT; the tests' cheap ones, saved by a CLI
    subprocess) opens, and saved again its header names the parameters its new KEK was derived under."""
    from sscard.security_module import keystore

    path = tmp_path / KEYSTORE
    monkeypatch.setattr(keystore, "SCRYPT", {"n": 2**4, "r": 8, "p": 1})
    keystore.SealedFile(path, "m", "sm").save({"a": 1})
    monkeypatch.setattr(keystore, "SCRYPT", {"n": 2**5, "r": 8, "p": 1})
    opened = keystore.SealedFile(path, "m", "sm")
    assert opened.load() == {"a": 1}
    opened.save({"a": 2})
    assert b'"n":32,' in path.read_bytes()
    assert keystore.SealedFile(path, "m", "sm").load() == {"a": 2}


def test_wrong_master_key_and_wrong_suite(tmp_path) -> None:
    open_soft_module(tmp_path, suite="sm", master_key="right")
    with pytest.raises(MasterKeyWrong):
        open_soft_module(tmp_path, suite="sm", master_key="wrong")
    with pytest.raises(SuiteUnsupported):
        open_soft_module(tmp_path, suite="intl", master_key="right")


def test_dev_master_key_file_and_prod_refusal(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("SSCARD_MASTER_KEY", raising=False)  # the suite's own keystore sets one
    for name in ("dev", "prod"):  # `sscard db upgrade` made the embedded database first (issue 22 item 5)
        (tmp_path / name).mkdir()
        (tmp_path / name / "sscard.db").touch()
    dev = Settings(env="dev", data_dir=tmp_path / "dev", hsm="soft")
    with dev_env():  # the development root is generated only with SSCARD_ENV=dev (KEY-6)
        module = open_security_module(dev)
    key_file = tmp_path / "dev" / "keys" / "master.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    printed = capsys.readouterr()  # stderr once logging is configured (the CLI does); stdout before
    assert "development master key" in printed.err + printed.out
    assert module.has_root()  # make run works without a ceremony outside prod
    open_security_module(dev)  # the same file opens it again
    key_file.unlink()
    with pytest.raises(MasterKeyRequired):  # never a second, different master key for an existing store
        open_security_module(dev)
    prod = Settings(env="prod", data_dir=tmp_path / "prod", hsm="soft")
    with pytest.raises(MasterKeyRequired):  # no tty here: no prompt, no file
        open_security_module(prod)
    assert not (tmp_path / "prod" / "keys" / "master.key").exists()
    # KEY-4: prod opens only on a registered, certified device (here the register says it is).
    monkeypatch.setattr("sscard.security_module.factory.register_lookup", lambda model: lambda serial: None)
    module = open_security_module(
        Settings(env="prod", data_dir=tmp_path / "prod", hsm="soft", master_key="s3cret", hsm_device_serial="SN-1")
    )
    assert not module.has_root()  # prod: the root comes from init-root or a ceremony


def test_pkcs11_defaults_to_intl() -> None:
    assert suite_for(Settings(hsm="pkcs11")) == "intl"
    assert suite_for(Settings(hsm="soft")) == "sm"
    assert suite_for(Settings(hsm="pkcs11", crypto_suite="sm")) == "sm"  # then refused by the backend
