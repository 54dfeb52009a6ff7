"""The key hierarchy over every backend: derivation, KCVs, local keys, rotation, revocation, export."""

from __future__ import annotations

import secrets

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap

from sscard.security_module.envelope import open_envelope, public_key_bytes
from sscard.security_module.errors import (
    KcvMismatch,
    KeyExists,
    KeyNotExportable,
    KeyNotFound,
    KeyRetired,
    KeyRevoked,
    KeyUsageInvalid,
    KeyVersionUnknown,
)
from sscard.security_module.hsm import HierarchyModule
from sscard.security_module.primitives import key_unwrap
from tests.security_module import reference as ref
from tests.security_module.conftest import staff

REGION, TID = "440304", "T440304000001"
CUSTODIANS = (staff("custodian-a"), staff("custodian-b", role="security_officer"))


def form_root(module: HierarchyModule) -> None:
    """The national root from two known components, so the tests can recompute every child."""
    module.import_components("ROOT", purpose="root", level="national", region="000000",
                             components=[ref.C1, ref.C2], kcv=ref.kcv(module.suite, ref.ROOT))  # fmt: skip


def form_transport(module: HierarchyModule, label: str = "KTK/CITY01") -> bytes:
    c1, c2 = secrets.token_bytes(16), secrets.token_bytes(16)
    module.import_components(label, purpose="transport", level="local", region="440300", components=[c1, c2], kcv=None)
    return bytes(a ^ b for a, b in zip(c1, c2, strict=True))


# rule KEY-3: child = E(parent, D(tag, id, version)) exactly as documented; the same on every backend
def test_derivation_matches_the_documented_rule(module: HierarchyModule) -> None:
    form_root(module)
    suite = module.suite
    expected = ref.chain(suite, ref.ROOT, REGION, TID)
    module.derive_region("440300", custodians=CUSTODIANS)  # creates PMK/440000: dual control (KEY-6)
    kcvs = {e.label: e.versions[1].kcv for e in module.entries()}
    assert kcvs["PMK/440000"] == ref.kcv(suite, expected["PMK"])
    assert kcvs["CMK/440300"] == ref.kcv(suite, expected["CMK"])
    assert kcvs["TMK/440300"] == ref.kcv(suite, expected["TMK"])
    assert kcvs["CRD/440300"] == ref.kcv(suite, expected["CRD"])
    mac = module.terminal_mac(terminal_id=TID, region_code=REGION, key_version=1, data=b"request")
    assert mac == ref.mac(suite, expected["TMAC"], b"request") and len(mac) == 16
    assert module.terminal_key_check_values(terminal_id=TID, region_code=REGION, key_version=1) == (
        ref.kcv(suite, expected["TMAC"]),
        ref.kcv(suite, expected["TPIN"]),
    )
    # Remote key loading: the envelope opens, for this terminal only, to the same derived keys.
    private = ec.generate_private_key(ec.SECP256R1())
    envelope = module.export_terminal_key(
        terminal_id=TID, region_code=REGION, key_version=1, recipient_public_key=public_key_bytes(private)
    )
    assert open_envelope(private, envelope, TID.encode()) == expected["TMAC"] + expected["TPIN"]


# rule KEY-3: KCV on every key, and the directory holds only metadata
def test_every_key_has_a_kcv(module: HierarchyModule) -> None:
    form_root(module)
    module.derive_region("110100", custodians=CUSTODIANS)
    entries = module.entries()
    assert {"DATA", "INDEX", "AUDIT", "PVK", "ROOT", "PMK/110000", "CMK/110100", "TMK/110100", "CRD/110100"} <= {
        e.label for e in entries
    }
    for entry in entries:
        for kv in entry.versions.values():
            assert len(kv.kcv) == 6 and int(kv.kcv, 16) >= 0


# rule KEY-1: a city that received only its CMK derives its own sub-keys and nothing else
def test_city_holds_only_its_sub_keys(module: HierarchyModule, request, tmp_path) -> None:
    from tests.security_module.conftest import make_module

    form_root(module)
    transport = form_transport(module)
    exported = module.export_wrapped("CMK/440300", transport="KTK/CITY01")
    backend = module.backend.name
    city = make_module(request, tmp_path / "city", backend, module.suite)
    city.import_components("KTK/CITY01", purpose="transport", level="local", region="440300",
                           components=[transport, bytes(16)], kcv=None)  # fmt: skip
    city.import_wrapped("CMK/440300", version=1, wrapped=bytes.fromhex(exported["wrapped"]),
                        transport="KTK/CITY01", kcv=exported["kcv"], purpose="region")  # fmt: skip
    expected = ref.chain(module.suite, ref.ROOT, REGION, TID)
    assert city.terminal_mac(terminal_id=TID, region_code=REGION, key_version=1, data=b"x") == ref.mac(
        module.suite, expected["TMAC"], b"x"
    )
    with pytest.raises(KeyNotFound):  # another city: nothing above it is held here
        city.terminal_mac(terminal_id=TID, region_code="110105", key_version=1, data=b"x")
    with pytest.raises(KeyNotFound):
        city.derive_region("440000")
    assert not city.has_root()


# rule KEY-2: local keys are generated, not derived, and never leave the module (zone keys only wrapped)
def test_local_keys_are_generated(module: HierarchyModule) -> None:
    form_transport(module)
    kv = module.generate_local("LOC/ARCHIVE", purpose="local", region="440300")
    entry = module.describe("LOC/ARCHIVE")
    assert kv.origin == "generated" and kv.parent is None and entry.level == "local" and entry.region == "440300"
    for label in ("LOC/ARCHIVE", "DATA", "PVK", "AUDIT"):
        with pytest.raises(KeyNotExportable):
            module.export_wrapped(label, transport="KTK/CITY01")
    with pytest.raises(KeyExists):
        module.generate_local("LOC/ARCHIVE", purpose="local", region="440300")
    zone = module.generate_local("ZPK/BANK01", purpose="zone_pin", region="440300")
    assert module.export_wrapped("ZPK/BANK01", transport="KTK/CITY01")["kcv"] == zone.kcv


# rule KEY-3: export only wrapped under a transport key (RFC 3394), never in clear
def test_export_under_transport_key(module: HierarchyModule) -> None:
    form_root(module)
    transport = form_transport(module)
    out = module.export_wrapped("TMK/440300", transport="KTK/CITY01")
    expected = ref.chain(module.suite, ref.ROOT, REGION, TID)["TMK"]
    wrapped = bytes.fromhex(out["wrapped"])
    assert expected not in wrapped and out["kcv"] == ref.kcv(module.suite, expected)
    if module.suite == "intl":
        assert aes_key_unwrap(transport, wrapped) == expected
    else:
        assert key_unwrap(lambda b: ref_decrypt_sm4(transport, b), wrapped) == expected
    with pytest.raises(KeyUsageInvalid):  # a region key is no transport key
        module.export_wrapped("TMK/440300", transport="CMK/440300")


def ref_decrypt_sm4(key: bytes, block: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    dec = Cipher(algorithms.SM4(key), modes.ECB()).decryptor()  # noqa: S305
    return dec.update(block) + dec.finalize()


# rule KEY-3: an import whose KCV does not match is refused and changes nothing
def test_import_with_wrong_kcv_is_refused(module: HierarchyModule) -> None:
    form_root(module)
    form_transport(module)
    out = module.export_wrapped("CMK/440300", transport="KTK/CITY01")
    before = {e.label for e in module.entries()}
    with pytest.raises(KcvMismatch):
        module.import_wrapped("ZPK/OTHER", version=1, wrapped=bytes.fromhex(out["wrapped"]), transport="KTK/CITY01",
                              kcv="000000")  # fmt: skip
    with pytest.raises(KcvMismatch):  # a damaged blob does not unwrap
        module.import_wrapped("ZPK/OTHER", version=1, wrapped=bytes(24), transport="KTK/CITY01", kcv=out["kcv"])
    assert {e.label for e in module.entries()} == before


# rule KEY-3: rotation makes a new version; the old one still verifies until retired
def test_rotation_and_retirement(module: HierarchyModule) -> None:
    form_root(module)
    assert module.terminal_key_version(region_code=REGION) == 1
    v1 = module.terminal_mac(terminal_id=TID, region_code=REGION, key_version=1, data=b"m")
    new = module.rotate("TMK/440300")
    assert new.version == 2 and module.terminal_key_version(region_code=REGION) == 2
    expected = ref.chain(module.suite, ref.ROOT, REGION, TID, tmk_version=2)
    assert module.terminal_mac(terminal_id=TID, region_code=REGION, key_version=2, data=b"m") == ref.mac(
        module.suite, expected["TMAC"], b"m"
    )
    assert module.terminal_mac(terminal_id=TID, region_code=REGION, key_version=1, data=b"m") == v1
    with pytest.raises(KeyVersionUnknown):
        module.terminal_mac(terminal_id=TID, region_code=REGION, key_version=3, data=b"m")
    with pytest.raises(KeyUsageInvalid):
        module.retire("TMK/440300", version=2)  # the current version
    module.retire("TMK/440300", version=1)
    with pytest.raises(KeyRetired):
        module.terminal_mac(terminal_id=TID, region_code=REGION, key_version=1, data=b"m")
    with pytest.raises(KeyUsageInvalid):
        module.rotate("AUDIT")


# rule KEY-9 / KEY-3: a revoked key is refused, and so is everything derived from it, also after reopening
def test_revocation_cascades_and_persists(module: HierarchyModule, request, tmp_path) -> None:
    form_root(module)
    module.terminal_mac(terminal_id=TID, region_code=REGION, key_version=1, data=b"m")
    module.terminal_mac(terminal_id=TID, region_code="110105", key_version=1, data=b"m")
    assert module.revoke("CMK/440300", reason="carrier lost") == [1]
    with pytest.raises(KeyRevoked):
        module.terminal_mac(terminal_id=TID, region_code=REGION, key_version=1, data=b"m")
    with pytest.raises(KeyRevoked):
        module.rotate("TMK/440300")  # nothing new from a revoked parent
    assert module.key_state("TMK/440300", 1) == "revoked"
    module.terminal_mac(terminal_id=TID, region_code="110105", key_version=1, data=b"m")  # another city: fine
    with pytest.raises(KeyUsageInvalid):
        module.revoke("DATA", reason="no")  # the current data key is rotated first
    module.refresh()
    with pytest.raises(KeyRevoked):
        module.terminal_mac(terminal_id=TID, region_code=REGION, key_version=1, data=b"m")


DOC_VECTORS = {
    "sm": {
        "root": "20BE26",
        "tmac": "A6F250",
        "tpin": "C8F0C7",
        "card": "36B039",
        "mac": "DD948538365088F683C19BD8DA14252C",
    },
    "intl": {
        "root": "2C1411",
        "tmac": "9714FF",
        "tpin": "EE4C91",
        "card": "167A32",
        "mac": "4238F3E38BFCED00E14AB2755679DD62",
    },
}


# rule KEY-3: the test vectors published in docs/security-module.md hold on every backend
def test_documented_vectors(module: HierarchyModule) -> None:
    from pathlib import Path

    form_root(module)
    want = DOC_VECTORS[module.suite]
    doc = (Path(__file__).resolve().parents[2] / "docs" / "security-module.md").read_text()
    assert all(value in doc for value in want.values())
    assert module.describe("ROOT").versions[1].kcv == want["root"]
    tid = "T440304000001"
    kcvs = module.terminal_key_check_values(terminal_id=tid, region_code=REGION, key_version=1)
    assert kcvs == (want["tmac"], want["tpin"])
    assert module.card_key_check_value(card_no="A12345678", region_code=REGION, key_version=1) == want["card"]
    mac = module.terminal_mac(terminal_id=tid, region_code=REGION, key_version=1, data=b"request")
    assert mac.hex().upper() == want["mac"]
