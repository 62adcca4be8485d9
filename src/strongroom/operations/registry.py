"""The one table that maps ``TrentService.<Operation>`` to its handler."""

from __future__ import annotations

from types import MappingProxyType

from strongroom.operations import (
    aliases,
    asymmetric,
    crypto,
    custom_key_stores,
    grants,
    keys,
    policies,
    tags,
    usage,
)
from strongroom.operations.context import Handler

__all__ = ["OPERATIONS"]

OPERATIONS: MappingProxyType[str, Handler] = MappingProxyType(
    {
        # key lifecycle
        "CreateKey": keys.create_key,
        "DescribeKey": keys.describe_key,
        "ListKeys": keys.list_keys,
        "EnableKey": keys.enable_key,
        "DisableKey": keys.disable_key,
        "ScheduleKeyDeletion": keys.schedule_key_deletion,
        "CancelKeyDeletion": keys.cancel_key_deletion,
        "UpdateKeyDescription": keys.update_key_description,
        "GetKeyLastUsage": usage.get_key_last_usage,
        # symmetric cryptography
        "GenerateDataKey": crypto.generate_data_key,
        "GenerateDataKeyWithoutPlaintext": crypto.generate_data_key_without_plaintext,
        "Encrypt": crypto.encrypt,
        "Decrypt": crypto.decrypt,
        "ReEncrypt": crypto.re_encrypt,
        "GenerateRandom": crypto.generate_random,
        "GenerateDataKeyPair": crypto.generate_data_key_pair,
        "GenerateDataKeyPairWithoutPlaintext": crypto.generate_data_key_pair_without_plaintext,
        # asymmetric and HMAC keys
        "GetPublicKey": asymmetric.get_public_key,
        "Sign": asymmetric.sign,
        "Verify": asymmetric.verify,
        "GenerateMac": asymmetric.generate_mac,
        "VerifyMac": asymmetric.verify_mac,
        "DeriveSharedSecret": asymmetric.derive_shared_secret,
        # aliases
        "CreateAlias": aliases.create_alias,
        "UpdateAlias": aliases.update_alias,
        "DeleteAlias": aliases.delete_alias,
        "ListAliases": aliases.list_aliases,
        # key policies
        "GetKeyPolicy": policies.get_key_policy,
        "PutKeyPolicy": policies.put_key_policy,
        "ListKeyPolicies": policies.list_key_policies,
        # grants
        "CreateGrant": grants.create_grant,
        "ListGrants": grants.list_grants,
        "ListRetirableGrants": grants.list_retirable_grants,
        "RetireGrant": grants.retire_grant,
        "RevokeGrant": grants.revoke_grant,
        # tags
        "TagResource": tags.tag_resource,
        "UntagResource": tags.untag_resource,
        "ListResourceTags": tags.list_resource_tags,
        # custom key stores (none exist yet)
        "CreateCustomKeyStore": custom_key_stores.create_custom_key_store,
        "DescribeCustomKeyStores": custom_key_stores.describe_custom_key_stores,
        "UpdateCustomKeyStore": custom_key_stores.update_custom_key_store,
        "DeleteCustomKeyStore": custom_key_stores.delete_custom_key_store,
        "ConnectCustomKeyStore": custom_key_stores.connect_custom_key_store,
        "DisconnectCustomKeyStore": custom_key_stores.disconnect_custom_key_store,
    }
)
