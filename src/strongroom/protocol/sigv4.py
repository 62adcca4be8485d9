"""AWS Signature Version 4 verification of incoming requests (``Authorization`` header form).

Every KMS call arrives signed by an AWS SDK. This module answers two questions for the protocol edge: *who*
is calling (access key -> account and principal) and *which region* they addressed (the credential scope's
region selects the keyspace, exactly as it selects the endpoint's region on real AWS).

It holds the public API and the verification flow: the order of the checks, the credential lookup, the
signing-key cache and the signature comparison. The pure text work it relies on (parsing the header and the
date, canonical URI/query/header forms, AWS's message texts) lives in :mod:`strongroom.protocol.sigv4_format`,
imported here by name so the hot path calls it directly, with no extra layer.

Design notes
------------
* **Errors mirror AWS.** Some SDKs (the JavaScript and Java ones, for instance) look for ``Signature
  expired`` / ``Signature not yet current`` to correct clock skew, so the texts are AWS's own wording. The
  order of the checks follows the order AWS's JSON-protocol services were observed to apply them: header
  syntax and presence, date format and skew, ``host``, the date and ``x-amz-*`` headers signed, algorithm,
  credential shape, credential scope, access key, and only then the signature.
* **It runs on every request**, so the date is parsed once and the derived signing key is cached (as the
  HMAC pads of the key): deriving it costs four HMACs, more than the rest of the verification.
* **The signature is compared in constant time** (:func:`hmac.compare_digest`).
* **What must be signed**: ``host`` (or ``:authority``), the header that carries the date (``x-amz-date``,
  or ``date`` when there is no ``x-amz-date``), and every ``x-amz-*`` header present in the request, above
  all ``x-amz-target`` (it selects the operation: an unsigned one could turn a captured DescribeKey into a
  DisableKey) and ``x-amz-security-token``. Otherwise ``InvalidSignatureException`` with AWS's "'<Header>'
  must be a 'SignedHeader' in the AWS Authorization." Other headers (``content-type``, ``user-agent``,
  ``x-amzn-trace-id``, botocore's ``amz-sdk-*``) need not be. botocore, the AWS CLI and the AWS Encryption
  SDK sign every header they send except ``user-agent``, ``expect``, ``transfer-encoding`` and
  ``x-amzn-trace-id``, so they pass.
* **The body is bound to the signature.** If the client signed ``x-amz-content-sha256`` we use its value in
  the canonical request (as the client did) but also insist that it is the hash of the body we received;
  otherwise a captured request could be replayed, within the skew window, with a different body.
  ``UNSIGNED-PAYLOAD`` is therefore not accepted: KMS clients always sign the payload.
* **Dev mode** (``check_signatures=False``, the server's ``--dev``) still parses everything and still applies
  the clock-skew window, so a client that works against dev mode produces well-formed requests; it only skips
  the access-key lookup failure and the signature comparison.

Query-string presigning (``X-Amz-Signature`` in the URL) is not supported: KMS clients never use it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol, TypeAlias

from strongroom.clock import Clock
from strongroom.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)

# Re-exported ("X as X"): ALGORITHM and TERMINATOR are part of this module's API; the date caches so that
# ``sigv4._EPOCH_CACHE.clear()`` (the tests' reset) reaches the very dicts the parser fills.
from strongroom.protocol.sigv4_format import _DAY_CACHE as _DAY_CACHE
from strongroom.protocol.sigv4_format import _EPOCH_CACHE as _EPOCH_CACHE
from strongroom.protocol.sigv4_format import ALGORITHM as ALGORITHM
from strongroom.protocol.sigv4_format import (
    MSG_DATE_REQUIRED,
    MSG_HOST_NOT_SIGNED,
    MSG_SIGNATURE_MISMATCH,
    REGION_CHARS,
    canonical_header_value,
    canonical_query,
    canonical_uri,
    format_iso,
    must_be_signed,
    parse_authorization,
    parse_date_header,
    parse_iso_basic,
    scope_problems,
)
from strongroom.protocol.sigv4_format import TERMINATOR as TERMINATOR

if TYPE_CHECKING:
    from hashlib import _Hash as HashObject

__all__ = [
    "Caller",
    "Credential",
    "CredentialLookup",
    "SigV4Verifier",
    "derive_signing_key",
]

_DIGITS: Final = "0123456789"
_SIGNING_KEY_CACHE_MAX: Final = 10_000  # module-level (looked up per use) so tests can shrink it


@dataclass(frozen=True, slots=True)
class Credential:
    """A long-term access key as the credential store knows it."""

    access_key_id: str
    secret_access_key: str
    account_id: str  # 12 digits
    principal_arn: str  # e.g. arn:aws:iam::111122223333:root


class CredentialLookup(Protocol):
    """Where the verifier finds secrets; ``None`` means "no such access key"."""

    def get(self, access_key_id: str) -> Credential | None: ...


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated identity of one request."""

    access_key_id: str
    account_id: str
    principal_arn: str
    region: str  # from the credential scope: selects the keyspace


def derive_signing_key(secret_access_key: str, yyyymmdd: str, region: str, service: str) -> bytes:
    """The SigV4 signing key: HMAC chain over date, region, service and terminator.

    Module-level (and looked up through the module at call time) so tests can count derivations.
    """
    k_date = hmac.digest(("AWS4" + secret_access_key).encode("utf-8"), yyyymmdd.encode("utf-8"), "sha256")
    k_region = hmac.digest(k_date, region.encode("utf-8"), "sha256")
    k_service = hmac.digest(k_region, service.encode("utf-8"), "sha256")
    return hmac.digest(k_service, b"aws4_request", "sha256")


def _hmac_pads(key: bytes) -> tuple[HashObject, HashObject]:
    """SHA-256 states after absorbing the HMAC inner and outer key pads (RFC 2104).

    Copying these per request and feeding only the message costs about a third of ``hmac.digest``, which
    re-does the key setup every call; the final HMAC is the one cost we pay on every request. The verifier
    finishes the HMAC inline: ``H(outer || H(inner || message))``.
    """
    block = key.ljust(64, b"\0")  # SigV4 signing keys are 32 bytes, shorter than SHA-256's 64-byte block
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
    return inner, outer


#: Signing-key cache value: the HMAC pads of the derived key, and the Caller to return on success.
_CacheEntry: TypeAlias = "tuple[tuple[HashObject, HashObject], Caller]"


class SigV4Verifier:
    """Verifies SigV4 ``Authorization`` headers and resolves the caller.

    One instance serves the whole process; it holds nothing request-specific apart from the signing-key cache,
    whose races (two threads deriving the same key) are harmless.
    """

    __slots__ = (
        "_check_signatures",
        "_clock",
        "_credentials",
        "_dev_account_id",
        "_key_cache",
        "_max_skew",
        "_service",
        "_skew_label",
    )

    def __init__(
        self,
        credentials: CredentialLookup,
        clock: Clock,
        *,
        service: str = "kms",
        max_skew_seconds: int = 300,
        check_signatures: bool = True,
        dev_account_id: str | None = None,
    ) -> None:
        if not check_signatures and (
            dev_account_id is None or len(dev_account_id) != 12 or dev_account_id.strip(_DIGITS)
        ):
            raise ValueError("dev mode (check_signatures=False) needs a 12-digit dev_account_id")
        if max_skew_seconds < 0:
            raise ValueError("max_skew_seconds must not be negative")
        self._credentials = credentials
        self._clock = clock
        self._service = service
        self._max_skew = max_skew_seconds
        self._skew_label = f"{max_skew_seconds / 60:g} min."
        self._check_signatures = check_signatures
        self._dev_account_id = dev_account_id
        # (access key, secret, yyyymmdd, region, service) -> (HMAC pads of the signing key, Caller)
        self._key_cache: dict[tuple[str, str, str, str, str], _CacheEntry] = {}

    def authenticate(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Caller:
        """Verify one request and return who sent it.

        ``path`` is the raw request path (not percent-decoded), ``query`` the raw query string without ``?``,
        ``headers`` maps lower-case header names to values (repeated headers joined with ``,``).
        Raises an :class:`~strongroom.errors.AuthError` subclass on any failure.
        """
        authorization = headers.get("authorization")
        if not authorization or authorization.isspace():
            raise MissingAuthenticationTokenException()

        # -- syntax and presence ------------------------------------------------------------------------
        authorization = authorization.strip()
        scheme, credential, signed_headers, signature = parse_authorization(authorization)

        date_header = "x-amz-date"
        date_value = headers.get("x-amz-date")
        if date_value is None:
            date_header = "date"
            date_value = headers.get("date")

        if not credential or not signature or signed_headers is None or date_value is None:
            missing = ""
            if not credential:
                missing += "Authorization header requires 'Credential' parameter. "
            if not signature:
                missing += "Authorization header requires 'Signature' parameter. "
            if signed_headers is None:
                missing += "Authorization header requires 'SignedHeaders' parameter. "
            if date_value is None:
                missing += MSG_DATE_REQUIRED
            raise IncompleteSignatureException(f"{missing}Authorization={authorization}")

        # -- date format and clock skew -----------------------------------------------------------------
        if date_header == "x-amz-date":
            request_epoch = parse_iso_basic(date_value)
            request_iso = date_value
        else:
            request_epoch = parse_date_header(date_value)
            request_iso = "" if request_epoch is None else format_iso(request_epoch)
        if request_epoch is None:
            raise IncompleteSignatureException(
                f"Date must be in ISO-8601 'basic format'. Got '{date_value}'. "
                "See http://en.wikipedia.org/wiki/ISO_8601"
            )
        now = self._clock.now()
        if request_epoch < now - self._max_skew:
            raise InvalidSignatureException(
                f"Signature expired: {request_iso} is now earlier than {format_iso(now - self._max_skew)} "
                f"({format_iso(now)} - {self._skew_label})"
            )
        if request_epoch > now + self._max_skew:
            raise InvalidSignatureException(
                f"Signature not yet current: {request_iso} is still later than "
                f"{format_iso(now + self._max_skew)} ({format_iso(now)} + {self._skew_label})"
            )

        # -- signed-header requirements -----------------------------------------------------------------
        signed_headers = signed_headers.lower()
        signed_names = signed_headers.split(";")
        if "host" not in signed_names and ":authority" not in signed_names:
            raise InvalidSignatureException(MSG_HOST_NOT_SIGNED)
        if date_header not in signed_names:
            raise InvalidSignatureException(must_be_signed(date_header))
        for name in headers:
            # Every x-amz-* header is part of the request's meaning (X-Amz-Target picks the operation,
            # X-Amz-Security-Token the session): one left out of the signature could be swapped freely.
            if name.startswith("x-amz-") and name not in signed_names:
                raise InvalidSignatureException(must_be_signed(name))

        # -- algorithm and credential scope -------------------------------------------------------------
        if scheme != ALGORITHM:
            raise IncompleteSignatureException(
                f"Unsupported AWS 'algorithm': '{scheme}' (only {ALGORITHM} for now). "
            )
        parts = credential.rstrip("/").split("/")
        if len(parts) != 5:
            raise IncompleteSignatureException(
                "Credential must have exactly 5 slash-delimited elements, "
                f"e.g. keyid/date/region/service/term, got '{credential}'"
            )
        access_key_id, scope_date, region, service, terminator = parts
        if (
            scope_date != request_iso[:8]
            or service != self._service
            or terminator != TERMINATOR
            or not region
            or region.strip(REGION_CHARS)
        ):
            raise InvalidSignatureException(
                scope_problems(scope_date, region, service, terminator, self._service, request_iso)
            )

        # -- access key ---------------------------------------------------------------------------------
        known = self._credentials.get(access_key_id)
        if not self._check_signatures:
            if known is None:
                dev_account = self._dev_account_id or ""
                return Caller(access_key_id, dev_account, f"arn:aws:iam::{dev_account}:root", region)
            return Caller(access_key_id, known.account_id, known.principal_arn, region)
        if known is None:
            raise UnrecognizedClientException()

        # -- signature ----------------------------------------------------------------------------------
        try:
            canonical_headers = "".join([f"{name}:{headers[name].strip()}\n" for name in signed_names])
        except KeyError:  # the client signed a header we did not receive: it cannot match
            raise InvalidSignatureException(MSG_SIGNATURE_MISMATCH) from None
        # Values needing SigV4's whitespace collapsing are rare; one scan of the joined text finds them.
        if "  " in canonical_headers or "\t" in canonical_headers or not canonical_headers.isascii():
            canonical_headers = "".join(
                [f"{name}:{canonical_header_value(headers[name])}\n" for name in signed_names]
            )

        payload_hash = hashlib.sha256(body).hexdigest()
        if "x-amz-content-sha256" in signed_names:
            claimed = headers["x-amz-content-sha256"]
            if claimed.lower() != payload_hash:
                raise InvalidSignatureException(MSG_SIGNATURE_MISMATCH)
            payload_hash = claimed

        uri = "/" if path == "/" else canonical_uri(path)
        params = canonical_query(query) if query else ""
        canonical_request = (
            f"{method.upper()}\n{uri}\n{params}\n{canonical_headers}\n{signed_headers}\n{payload_hash}"
        )
        scope = f"{scope_date}/{region}/{service}/{TERMINATOR}"
        string_to_sign = "\n".join(
            (
                ALGORITHM,
                request_iso,
                scope,
                hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
            )
        )

        cache_key = (access_key_id, known.secret_access_key, scope_date, region, service)
        cached = self._key_cache.get(cache_key)
        if cached is None:
            if len(self._key_cache) >= _SIGNING_KEY_CACHE_MAX:
                self._key_cache.clear()
            pads = _hmac_pads(derive_signing_key(known.secret_access_key, scope_date, region, service))
            cached = (pads, Caller(access_key_id, known.account_id, known.principal_arn, region))
            self._key_cache[cache_key] = cached
        pads, caller = cached

        inner = pads[0].copy()  # HMAC-SHA256 from precomputed pads: see _hmac_pads
        inner.update(string_to_sign.encode("utf-8"))
        outer = pads[1].copy()
        outer.update(inner.digest())
        expected = outer.hexdigest()
        if not signature.isascii() or not hmac.compare_digest(expected, signature):
            raise InvalidSignatureException(MSG_SIGNATURE_MISMATCH)
        if caller.account_id != known.account_id or caller.principal_arn != known.principal_arn:
            # Same key and secret, but the store re-homed the key since we cached its Caller.
            caller = Caller(access_key_id, known.account_id, known.principal_arn, region)
        return caller
