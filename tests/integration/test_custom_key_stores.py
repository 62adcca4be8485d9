"""Custom key stores as AWS answers an account that has none: nothing listed, every named store not
found, creation refused with the error its missing dependency gives."""

from __future__ import annotations

from typing import Any

from tests.conftest import aws_error
from tests.integration.signing import call
from tests.integration.test_audit import trail_bytes

STORE = "cks-1234567890abcdef0"


def test_an_account_without_custom_key_stores(server: Any, kms: Any) -> None:
    assert kms.describe_custom_key_stores()["CustomKeyStores"] == []
    assert kms.describe_custom_key_stores()["Truncated"] is False
    for call_, kwargs in [
        (kms.describe_custom_key_stores, {"CustomKeyStoreId": STORE}),
        (kms.describe_custom_key_stores, {"CustomKeyStoreName": "mine"}),
        (kms.update_custom_key_store, {"CustomKeyStoreId": STORE, "NewCustomKeyStoreName": "x"}),
        (kms.delete_custom_key_store, {"CustomKeyStoreId": STORE}),
        (kms.connect_custom_key_store, {"CustomKeyStoreId": STORE}),
        (kms.disconnect_custom_key_store, {"CustomKeyStoreId": STORE}),
        (kms.create_key, {"CustomKeyStoreId": STORE}),
        (kms.create_key, {"CustomKeyStoreId": STORE, "Origin": "AWS_CLOUDHSM"}),
        (kms.generate_random, {"NumberOfBytes": 16, "CustomKeyStoreId": STORE}),
    ]:
        code, message, status = aws_error(call_, **kwargs)
        assert (code, status) == ("CustomKeyStoreNotFoundException", 400), (call_, kwargs)
        assert STORE in message or "mine" in message
    code, message, _ = aws_error(
        kms.create_custom_key_store,
        CustomKeyStoreName="hsm",
        CloudHsmClusterId="cluster-234567abcde",
        TrustAnchorCertificate="-----BEGIN CERTIFICATE-----",
        KeyStorePassword="kmsPswd",
    )
    assert code == "CloudHsmClusterNotFoundException" and "cluster-234567abcde" in message
    code, message, _ = aws_error(
        kms.create_custom_key_store,
        CustomKeyStoreName="xks",
        CustomKeyStoreType="EXTERNAL_KEY_STORE",
        XksProxyUriEndpoint="https://xks.example.com",
        XksProxyUriPath="/kms/xks/v1",
        XksProxyConnectivity="PUBLIC_ENDPOINT",
        XksProxyAuthenticationCredential={
            "AccessKeyId": "ABCDE234567EXAMPLEAB",
            "RawSecretAccessKey": "DXjSUawnel2fr6SKC7G25CNxTyWKE5PF9XX6H/u9pSo=",
        },
    )
    assert code == "UnsupportedOperationException" and "External key stores" in message
    status, answer = call(server.endpoint, "CreateCustomKeyStore", b'{"CustomKeyStoreName": "hsm"}')
    assert (status, answer["__type"]) == (400, "ValidationException")
    trail = trail_bytes(server)
    assert b'"customKeyStoreName":"xks"' in trail  # recorded, but never the store's secrets
    for secret in (b"kmsPswd", b"DXjSUawnel2fr6SKC7G25CNxTyWKE5PF9XX6H", b"ABCDE234567EXAMPLEAB"):
        assert secret not in trail
