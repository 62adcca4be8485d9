"""The one exception hierarchy of Strongroom.

Every error a client can see is a :class:`KmsError`. Its AWS error code and HTTP status are class
attributes, so the protocol edge maps any error to the wire in one place
(:func:`strongroom.protocol.wire.error_response`)::

    KmsError                      root; never raised itself
    +-- ClientError               4xx: the caller's fault (HTTP 400, as real KMS answers)
    |   +-- ValidationException, NotFoundException, DisabledException, ...  (modeled KMS errors)
    |   +-- AuthError             SigV4 failures (MissingAuthenticationToken, InvalidSignature, ...)
    +-- ServerError               5xx: ours (KMSInternalException 500, DependencyTimeoutException 503, ...)

Cryptographic failures stay opaque: InvalidCiphertextException, KMSInvalidSignatureException and
KMSInvalidMacException never carry a message.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AccessDeniedException",
    "AlreadyExistsException",
    "AuthError",
    "ClientError",
    "CloudHsmClusterNotFoundException",
    "ConflictException",
    "CustomKeyStoreNotFoundException",
    "DependencyTimeoutException",
    "DisabledException",
    "DryRunOperationException",
    "IncompleteSignatureException",
    "IncorrectKeyException",
    "InvalidAliasNameException",
    "InvalidArnException",
    "InvalidCiphertextException",
    "InvalidGrantIdException",
    "InvalidGrantTokenException",
    "InvalidKeyUsageException",
    "InvalidMarkerException",
    "InvalidSignatureException",
    "KMSInternalException",
    "KMSInvalidMacException",
    "KMSInvalidSignatureException",
    "KMSInvalidStateException",
    "KeyUnavailableException",
    "KmsError",
    "LimitExceededException",
    "MalformedPolicyDocumentException",
    "MissingAuthenticationTokenException",
    "NotAuthorizedException",
    "NotFoundException",
    "SerializationException",
    "ServerError",
    "TagException",
    "UnknownOperationException",
    "UnrecognizedClientException",
    "UnsupportedOperationException",
    "ValidationException",
]


class KmsError(Exception):
    """Root of every error that reaches a client as an AWS error body."""

    code: ClassVar[str] = "KMSInternalException"
    status: ClassVar[int] = 500

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "")
        self.message: str | None = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ClientError(KmsError):
    """The caller's fault. Real KMS answers HTTP 400 for all of these (digest section 1.4)."""

    status = 400


class ServerError(KmsError):
    """Our fault or a dependency's; 5xx so that SDKs retry."""

    status = 500


# -- modeled KMS client errors (HTTP 400 on the wire) -------------------------------------------------
class ValidationException(ClientError):
    code = "ValidationException"


class NotFoundException(ClientError):
    code = "NotFoundException"


class DisabledException(ClientError):
    code = "DisabledException"


class KMSInvalidStateException(ClientError):
    code = "KMSInvalidStateException"


class AlreadyExistsException(ClientError):
    code = "AlreadyExistsException"


class DryRunOperationException(ClientError):
    code = "DryRunOperationException"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "The request would have succeeded, but the DryRun option is set.")


class IncorrectKeyException(ClientError):
    code = "IncorrectKeyException"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message or "The key ID in the request does not identify a CMK that can perform this operation."
        )


class InvalidCiphertextException(ClientError):
    """Deliberately uninformative: no message, whatever went wrong."""

    code = "InvalidCiphertextException"

    def __init__(self) -> None:
        super().__init__(None)


class KMSInvalidSignatureException(ClientError):
    """A signature that does not verify; no message, as in AWS."""

    code = "KMSInvalidSignatureException"

    def __init__(self) -> None:
        super().__init__(None)


class KMSInvalidMacException(ClientError):
    """A MAC that does not verify; no message, as in AWS."""

    code = "KMSInvalidMacException"

    def __init__(self) -> None:
        super().__init__(None)


class InvalidKeyUsageException(ClientError):
    code = "InvalidKeyUsageException"


class InvalidArnException(ClientError):
    code = "InvalidArnException"


class InvalidAliasNameException(ClientError):
    code = "InvalidAliasNameException"


class InvalidMarkerException(ClientError):
    code = "InvalidMarkerException"


class InvalidGrantTokenException(ClientError):
    code = "InvalidGrantTokenException"


class UnsupportedOperationException(ClientError):
    code = "UnsupportedOperationException"


class CustomKeyStoreNotFoundException(ClientError):
    code = "CustomKeyStoreNotFoundException"


class CloudHsmClusterNotFoundException(ClientError):
    code = "CloudHsmClusterNotFoundException"


class LimitExceededException(ClientError):
    code = "LimitExceededException"


class ConflictException(ClientError):
    code = "ConflictException"


class TagException(ClientError):
    code = "TagException"


class AccessDeniedException(ClientError):
    code = "AccessDeniedException"


# -- framework-level client errors --------------------------------------------------------------------
class SerializationException(ClientError):
    """The body is not a JSON object, or a member has the wrong JSON type."""

    code = "SerializationException"


class UnknownOperationException(ClientError):
    code = "UnknownOperationException"


class AuthError(ClientError):
    """A request that fails SigV4 authentication."""


class MissingAuthenticationTokenException(AuthError):
    code = "MissingAuthenticationTokenException"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "Missing Authentication Token")


class IncompleteSignatureException(AuthError):
    code = "IncompleteSignatureException"


class InvalidSignatureException(AuthError):
    code = "InvalidSignatureException"


class UnrecognizedClientException(AuthError):
    code = "UnrecognizedClientException"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "The security token included in the request is invalid.")


# -- server errors --------------------------------------------------------------------------------------
class KMSInternalException(ServerError):
    code = "KMSInternalException"


class KeyUnavailableException(ServerError):
    code = "KeyUnavailableException"


class DependencyTimeoutException(ServerError):
    code = "DependencyTimeoutException"
    status = 503


class NotAuthorizedException(ClientError):
    """Creating or changing a reserved ``alias/aws/`` alias (code as moto reports; unconfirmed on AWS)."""

    code = "NotAuthorizedException"


class MalformedPolicyDocumentException(ClientError):
    code = "MalformedPolicyDocumentException"


class InvalidGrantIdException(ClientError):
    code = "InvalidGrantIdException"
