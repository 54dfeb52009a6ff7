"""One usage per key (KEY-3, PCI PIN 18-3), and no key below the root computable in clear."""

from __future__ import annotations

import pytest

from sscard.security_module.diversify import diversification_data
from sscard.security_module.errors import KeyUsageInvalid, PinBlockInvalid
from sscard.security_module.hsm import HierarchyModule
from sscard.terminal.pinblock import encipher_pin_block, pin_block_pan
from tests.security_module import reference as ref
from tests.security_module.test_hierarchy import CUSTODIANS, REGION, TID, form_root, form_transport

PAN = pin_block_pan("A00000001")

PARENTS = ["ROOT@1", "PMK/440000@1", "CMK/440300@1", "TMK/440300@1", "CRD/440300@1"]
# The one usage each key of the module may have, by label prefix.
USAGE = {
    "ROOT": "derive", "PMK/": "derive", "CMK/": "derive", "TMK/": "derive", "CRD/": "derive",
    "TMAC/": "mac", "CARD/": "mac", "PVK": "mac", "INDEX": "mac", "AUDIT": "mac", "ANCHOR": "mac",
    "TPIN/": "pin", "ZPK/": "pin", "DATA": "data", "KTK/": "wrap",
}  # fmt: skip


def exercise_hierarchy(module: HierarchyModule) -> None:
    """The hierarchy down to a city, a transport and a zone PIN key (the local keys exist from the start)."""
    form_root(module)
    form_transport(module)
    module.generate_local("ZPK/BANK01", purpose="zone_pin", region="440300")
    module.derive_region("440300", custodians=CUSTODIANS)  # creates PMK/440000: dual control (KEY-6)


def exercise(module: HierarchyModule) -> None:
    """Make every kind of key the module has: hierarchy, terminal MAC and PIN, card, PVK, zone, transport."""
    exercise_hierarchy(module)
    exercise_terminals(module)


def exercise_terminals(module: HierarchyModule) -> None:
    module.terminal_mac(terminal_id=TID, region_code=REGION, key_version=1, data=b"m")
    module.card_mac(card_no="A00000001", region_code=REGION, key_version=1, data=b"m")
    module.terminal_key_check_values(terminal_id=TID, region_code=REGION, key_version=1)
    pin_key = ref.chain(module.suite, ref.ROOT, REGION, TID)["TPIN"]
    block = encipher_pin_block(pin_key, "482915", PAN, cipher="sm4" if module.suite == "sm" else "aes")
    src = {"terminal_id": TID, "region_code": REGION, "key_version": 1, "pan": PAN, "pin_block": block}
    module.pin_verification_value(**src)
    module.translate_pin_block(**src, zone_key="ZPK/BANK01")
    module.export_wrapped("CMK/440300", transport="KTK/CITY01")


def capabilities_of(usage: str) -> set[str]:
    """The PKCS#11 capability attributes a key of ``usage`` may have (written from the rule, not the code)."""
    return {"derive": {"DERIVE"}, "mac": {"SIGN", "VERIFY"}, "pin": {"ENCRYPT", "DECRYPT"},
            "data": {"ENCRYPT", "DECRYPT"}, "wrap": {"WRAP", "UNWRAP"}}[usage]  # fmt: skip


def walk(module: HierarchyModule) -> dict[str, set[str]]:
    """Every secret-key object of this module's namespace on the token, with the capabilities it has."""
    from pkcs11 import Attribute as A
    from pkcs11 import ObjectClass

    backend = module.backend
    prefix = backend._prefix  # type: ignore[attr-defined]
    seen = {}
    for obj in backend._session.get_objects({A.CLASS: ObjectClass.SECRET_KEY}):  # type: ignore[attr-defined]
        label = obj[A.LABEL]
        if not label.startswith(prefix):
            continue  # another test's namespace on the shared token
        ref_ = label.removeprefix(prefix)
        seen[ref_] = {name for name in ("ENCRYPT", "DECRYPT", "SIGN", "VERIFY", "DERIVE", "WRAP", "UNWRAP")
                      if obj[getattr(A, name)]}  # fmt: skip
        assert seen[ref_] == capabilities_of(expected_usage(ref_)), (ref_, seen[ref_])
        assert obj[A.SENSITIVE] and not obj[A.MODIFIABLE] and not obj[A.COPYABLE], ref_
        if ref_.startswith(("TMAC/", "TPIN/", "CARD/", "ROOT", "PVK", "DATA")):  # never leave the token
            assert not obj[A.EXTRACTABLE], ref_
        if ref_.startswith(("TMAC/", "TPIN/", "CARD/", "PMK/", "CMK/", "TMK/", "CRD/")):  # derived in the token
            assert not obj[A.TOKEN], ref_
    return seen


def expected_usage(ref_: str) -> str:
    label = ref_.rpartition("@")[0]
    return next(usage for prefix, usage in USAGE.items() if label == prefix or label.startswith(prefix))


# rule KEY-3: every key object in the token has exactly one usage, is sensitive and cannot be changed
def test_no_key_in_the_token_has_two_purposes(module: HierarchyModule) -> None:
    if module.backend.name != "pkcs11":
        pytest.skip("token objects: the PKCS#11 backend")
    exercise_hierarchy(module)
    walk(module)  # the hierarchy alone (this already failed before issue 17: every key could do everything)
    exercise_terminals(module)
    seen = walk(module)
    # Every kind of key was walked, the terminal's two keys among them.
    assert {expected_usage(r) for r in seen} == {"derive", "mac", "pin", "data", "wrap"}
    kinds = {r.partition("@")[0].partition("/")[0] for r in seen}
    assert kinds >= {"ROOT", "PMK", "CMK", "TMK", "CRD", "TMAC", "TPIN", "CARD", "PVK", "ZPK", "KTK"}


# rule KEY-3: a parent cannot encrypt, so E(parent, D) — the child key — is never computed in clear
def test_a_parent_cannot_be_used_with_c_encrypt(module: HierarchyModule) -> None:
    if module.backend.name != "pkcs11":
        pytest.skip("C_Encrypt: the PKCS#11 backend")
    import pkcs11
    from pkcs11 import Attribute as A
    from pkcs11 import Mechanism as M
    from pkcs11._pkcs11 import EncryptMixin, Object, SecretKey

    exercise_hierarchy(module)
    backend = module.backend
    data = diversification_data("intl", "TMK", "440300", 1)
    for parent in PARENTS:
        obj = backend._obj(parent)  # type: ignore[attr-defined]
        # python-pkcs11 offers ``encrypt`` only on keys with CKA_ENCRYPT: force the call to reach the token.
        forced = type("Forced", (SecretKey, EncryptMixin, Object), {})(obj.wrapper)
        with pytest.raises(pkcs11.PKCS11Error, match="0x68"):  # CKR_KEY_FUNCTION_NOT_PERMITTED
            forced.encrypt(data, mechanism=M.AES_ECB)
        with pytest.raises(pkcs11.PKCS11Error):  # and the capability cannot be switched on
            obj[A.ENCRYPT] = True
    for parent in PARENTS:
        with pytest.raises(KeyUsageInvalid):
            backend.block_functions(parent)


# rule KEY-3: the same on every backend — parents only derive, MAC keys only MAC, PIN keys only encipher
def test_every_backend_refuses_a_second_usage(module: HierarchyModule) -> None:
    exercise(module)
    backend = module.backend
    for parent in PARENTS:
        with pytest.raises(KeyUsageInvalid):
            backend.block_functions(parent)
        with pytest.raises(KeyUsageInvalid):
            backend.cmac(parent, b"x")
    tmac, tpin = f"TMAC/{REGION}/{TID}@1", f"TPIN/{REGION}/{TID}@1"
    with pytest.raises(KeyUsageInvalid):
        backend.block_functions(tmac)
    with pytest.raises(KeyUsageInvalid):
        backend.cmac(tpin, b"x")
    with pytest.raises(KeyUsageInvalid):
        backend.block_functions("PVK@1")
    with pytest.raises(KeyUsageInvalid):
        backend.block_functions("KTK/CITY01@1")


# rule PIN-11, CH-3: a terminal's PIN blocks are enciphered under its PIN key, never under its MAC key
def test_terminal_pin_blocks_use_the_pin_key_not_the_mac_key(module: HierarchyModule) -> None:
    form_root(module)
    keys = ref.chain(module.suite, ref.ROOT, REGION, TID)
    assert keys["TMAC"] != keys["TPIN"]
    cipher = "sm4" if module.suite == "sm" else "aes"
    src = {"terminal_id": TID, "region_code": REGION, "key_version": 1, "pan": PAN}
    pvv, version = module.pin_verification_value(**src, pin_block=encipher_pin_block(keys["TPIN"], "482915", PAN,
                                                                                     cipher=cipher))  # fmt: skip
    assert version == 1 and len(pvv) == 8
    with pytest.raises(PinBlockInvalid):
        module.pin_verification_value(**src, pin_block=encipher_pin_block(keys["TMAC"], "482915", PAN, cipher=cipher))
    assert module.terminal_mac(terminal_id=TID, region_code=REGION, key_version=1, data=b"r") == ref.mac(
        module.suite, keys["TMAC"], b"r"
    )
