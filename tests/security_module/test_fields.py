"""Field encryption, blind index and audit MAC over every backend, with data-key versions."""

from __future__ import annotations

import pytest

from sscard.security_module.errors import KeyRetired, KeyRevoked, ProtectedDataInvalid
from sscard.security_module.hsm import HierarchyModule


def test_field_round_trip_and_binding(module: HierarchyModule) -> None:
    token = module.encrypt_field(b"13800138000", context=b"sscard/field/phone")
    assert module.decrypt_field(token, context=b"sscard/field/phone") == b"13800138000"
    assert b"13800138000" not in token and module.field_key_version(token) == 1
    with pytest.raises(ProtectedDataInvalid):  # copied into another column
        module.decrypt_field(token, context=b"sscard/field/email")
    flipped = token[:-1] + bytes([token[-1] ^ 1])
    for bad in (flipped, token[:10], b"\x00\x09" + token[2:]):
        with pytest.raises(ProtectedDataInvalid):
            module.decrypt_field(bad, context=b"sscard/field/phone")


def test_index_and_audit_mac_are_keyed_and_stable(module: HierarchyModule) -> None:
    a = module.blind_index(b"440304198507090017", purpose="id_number")
    assert len(a) == 32 and a == module.blind_index(b"440304198507090017", purpose="id_number")
    assert a != module.blind_index(b"440304198507090017", purpose="phone")
    assert module.audit_mac(b"entry") == module.audit_mac(b"entry") and len(module.audit_mac(b"entry")) == 32


# rule KEY-3: the data key is versioned; old values decrypt during a rotation, not after retirement
def test_data_key_versions(module: HierarchyModule) -> None:
    old = module.encrypt_field(b"secret", context=b"c")
    assert module.rotate("DATA").version == 2
    new = module.encrypt_field(b"secret", context=b"c")
    assert module.field_key_version(new) == 2
    assert module.decrypt_field(old, context=b"c") == b"secret"
    resealed = module.reencrypt_field(old, context=b"c")
    assert resealed is not None and module.field_key_version(resealed) == 2
    assert module.reencrypt_field(new, context=b"c") is None
    module.retire("DATA", version=1)
    with pytest.raises(KeyRetired):
        module.decrypt_field(old, context=b"c")
    module.revoke("DATA", reason="test", version=1)
    with pytest.raises(KeyRevoked):
        module.decrypt_field(old, context=b"c")
    assert module.decrypt_field(resealed, context=b"c") == b"secret"


def test_backend_hmac_is_the_standard_hmac_of_the_key_it_holds_now(module: HierarchyModule) -> None:
    # The soft backend keeps a keyed template per key (the audit chain's hot path): it must be the
    # standard HMAC of that key, and follow the key when the reference is destroyed and held anew.
    import os

    from cryptography.hazmat.primitives import hashes, hmac

    def standard(key: bytes, data: bytes) -> bytes:
        mac = hmac.HMAC(key, hashes.SM3() if module.suite == "sm" else hashes.SHA256())
        mac.update(data)
        return mac.finalize()

    backend = module.backend
    first, second = os.urandom(32), os.urandom(32)
    backend.import_clear("TEST-HMAC@1", "hmac", first, usage="mac", exportable=False)
    assert backend.hmac("TEST-HMAC@1", b"entry") == standard(first, b"entry")
    assert backend.hmac("TEST-HMAC@1", b"other") == standard(first, b"other")  # the template is not consumed
    backend.destroy("TEST-HMAC@1")
    backend.import_clear("TEST-HMAC@1", "hmac", second, usage="mac", exportable=False)
    assert backend.hmac("TEST-HMAC@1", b"entry") == standard(second, b"entry")


# rule ID-5 / KEY-3: the batch API (bulk imports) seals and indexes exactly as one call per value does:
# each token opens only under its own context, under the current data-key version; indexes are equal
def test_batch_fields_and_indexes_match_single_calls(module: HierarchyModule) -> None:
    items = [(b"13800138000", b"sscard/field/phone"), (b"a@example.com", b"sscard/field/email"), (b"", b"c")]
    assert module.rotate("DATA").version == 2
    tokens = module.encrypt_fields(items)
    assert len(tokens) == 3 and len({t[2:14] for t in tokens}) == 3  # a fresh nonce each
    for token, (plaintext, context) in zip(tokens, items, strict=True):
        assert module.field_key_version(token) == 2 and module.decrypt_field(token, context=context) == plaintext
        with pytest.raises(ProtectedDataInvalid):
            module.decrypt_field(token, context=context + b"x")
    values = [(b"440304198507090017", "id_number"), (b"440304198507090017", "phone"), (b"x", "name")]
    assert module.blind_indexes(values) == [module.blind_index(v, purpose=p) for v, p in values]
    assert module.encrypt_fields([]) == [] and module.blind_indexes([]) == []
    assert module.rotate("DATA").version == 3  # the batch follows the current version, as the single call
    assert {module.field_key_version(t) for t in module.encrypt_fields(items)} == {3}
