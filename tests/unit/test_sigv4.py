"""SigV4 verification, with botocore itself as the signing oracle.

Every "good" request here is signed by ``botocore.auth.SigV4Auth`` at a frozen time, so the tests check that
the verifier agrees with the real client, not with a second copy of our own canonicalisation.
"""

from __future__ import annotations

import datetime
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from unittest import mock
from urllib.parse import urlsplit

import botocore.auth
import botocore.credentials
import pytest
from botocore.awsrequest import AWSRequest

from strongroom.clock import FixedClock
from strongroom.errors import (
    AuthError,
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from strongroom.protocol import sigv4
from strongroom.protocol.sigv4 import Caller, Credential, SigV4Verifier, derive_signing_key
from tests.integration.signing import SignerLeavingOut

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ACCOUNT = "111122223333"
PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:root"
OTHER_AKID = "AKIAOTHERKEY00000000"
OTHER_ACCOUNT = "444455556666"
DEV_ACCOUNT = "000000000000"
REGION = "eu-west-2"
URL = "http://127.0.0.1:4599/"
BODY = b'{"KeyId":"alias/x","KeySpec":"AES_256"}'
SIGNED_AT = datetime.datetime(2024, 5, 6, 7, 8, 9)  # naive UTC, as botocore's clock returns it
SIGNED_EPOCH = SIGNED_AT.replace(tzinfo=datetime.UTC).timestamp()
SIGNED_ISO = "20240506T070809Z"
USER_AGENT = "Boto3/1.43.11 md/Botocore#1.43.11 ua/2.1 os/linux#6.1 md/arch#x86_64 lang/python#3.11.7"
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


class Store:
    """A CredentialLookup backed by a dict."""

    def __init__(self, *credentials: Credential) -> None:
        self.by_id = {c.access_key_id: c for c in credentials}

    def get(self, access_key_id: str) -> Credential | None:
        return self.by_id.get(access_key_id)


def default_store() -> Store:
    return Store(
        Credential(AKID, SECRET, ACCOUNT, PRINCIPAL),
        Credential(OTHER_AKID, "other-secret", OTHER_ACCOUNT, f"arn:aws:iam::{OTHER_ACCOUNT}:user/alice"),
    )


@dataclass
class Req:
    """A request as the server hands it to the verifier."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def with_headers(self, **changes: str | None) -> Req:
        """A copy with headers set (underscores become dashes) or, for None, removed."""
        headers = dict(self.headers)
        for name, value in changes.items():
            key = name.replace("_", "-")
            if value is None:
                headers.pop(key, None)
            else:
                headers[key] = value
        return replace(self, headers=headers)

    def with_authorization(self, fix: Callable[[str], str]) -> Req:
        return self.with_headers(authorization=fix(self.headers["authorization"]))


@dataclass
class Signing:
    url: str = URL
    body: bytes = BODY
    headers: dict[str, str] = field(default_factory=dict)
    akid: str = AKID
    secret: str = SECRET
    token: str | None = None
    region: str = REGION
    service: str = "kms"
    when: datetime.datetime = SIGNED_AT


def sign(s: Signing | None = None) -> Req:
    """Sign a KMS GenerateDataKey request with botocore and convert it to what the server would see."""
    s = s or Signing()
    request = AWSRequest(
        method="POST",
        url=s.url,
        data=s.body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "TrentService.GenerateDataKey",
            **s.headers,
        },
    )
    credentials = botocore.credentials.Credentials(s.akid, s.secret, s.token)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=s.when):
        botocore.auth.SigV4Auth(credentials, s.service, s.region).add_auth(request)
    parts = urlsplit(s.url)
    headers = {name.lower(): str(value) for name, value in request.headers.items()}
    # Added by the HTTP layer after signing, as botocore really sends them (user-agent is never signed).
    headers["host"] = parts.netloc
    headers["user-agent"] = USER_AGENT
    headers["content-length"] = str(len(s.body))
    return Req("POST", parts.path, parts.query, headers, s.body)


def verifier(
    *, clock_epoch: float = SIGNED_EPOCH, store: Store | None = None, max_skew_seconds: int = 300
) -> SigV4Verifier:
    return SigV4Verifier(store or default_store(), FixedClock(clock_epoch), max_skew_seconds=max_skew_seconds)


def dev_verifier(*, clock_epoch: float = SIGNED_EPOCH) -> SigV4Verifier:
    return SigV4Verifier(
        default_store(), FixedClock(clock_epoch), check_signatures=False, dev_account_id=DEV_ACCOUNT
    )


def auth(v: SigV4Verifier, r: Req) -> Caller:
    return v.authenticate(r.method, r.path, r.query, r.headers, r.body)


def rejected(v: SigV4Verifier, r: Req, error: type[AuthError]) -> str:
    """Authenticate expecting exactly ``error``; return its message."""
    with pytest.raises(AuthError) as info:
        auth(v, r)
    assert type(info.value) is error, repr(info.value)
    return info.value.message or ""


@pytest.fixture(autouse=True)
def _fresh_date_caches() -> Iterator[None]:
    """The module's date caches are process-wide; start each test without them."""
    sigv4._EPOCH_CACHE.clear()
    sigv4._DAY_CACHE.clear()
    yield


# -- success -----------------------------------------------------------------------------------------------
def test_botocore_signed_request_verifies_and_returns_identity_and_region() -> None:
    r = sign()
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-target," in r.headers["authorization"]
    assert auth(verifier(), r) == Caller(AKID, ACCOUNT, PRINCIPAL, REGION)


def test_region_comes_from_the_credential_scope() -> None:
    assert auth(verifier(), sign(Signing(region="us-east-1"))).region == "us-east-1"


def test_each_known_key_gets_its_own_identity() -> None:
    caller = auth(verifier(), sign(Signing(akid=OTHER_AKID, secret="other-secret")))
    assert caller == Caller(OTHER_AKID, OTHER_ACCOUNT, f"arn:aws:iam::{OTHER_ACCOUNT}:user/alice", REGION)


def test_signed_session_token_header_still_verifies() -> None:
    r = sign(Signing(token="FwoGZXIvYXdzEXAMPLETOKEN//////////wEaDExample+token/value=="))
    assert "x-amz-security-token" in r.headers["authorization"].split("SignedHeaders=")[1].split(",")[0]
    assert r.headers["x-amz-security-token"].startswith("FwoGZXIv")
    assert auth(verifier(), r).account_id == ACCOUNT


@pytest.fixture
def local_zone_not_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run with the process's local time zone five hours behind UTC (a POSIX TZ string: no tzdata needed)."""
    monkeypatch.setenv("TZ", "EST5")
    time.tzset()
    assert time.timezone == 5 * 3600
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("local_zone_not_utc")
def test_date_header_instead_of_x_amz_date() -> None:
    # botocore switches to an RFC 7231 Date header (and no X-Amz-Date) when the request already has one.
    # It writes the zone as "-0000", which must be read as UTC whatever the server's local zone is.
    r = sign(Signing(headers={"Date": "placeholder"}))
    assert "x-amz-date" not in r.headers
    assert r.headers["date"].startswith("Mon, 06 May 2024 07:08:09")
    assert auth(verifier(), r).region == REGION


def test_matches_the_signing_key_example_in_the_aws_documentation() -> None:
    key = derive_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


# -- credentials and signature -----------------------------------------------------------------------------
def test_wrong_secret_is_a_signature_mismatch() -> None:
    message = rejected(verifier(), sign(Signing(secret="not-the-secret")), InvalidSignatureException)
    assert message == MISMATCH


def test_unknown_access_key() -> None:
    message = rejected(verifier(), sign(Signing(akid="AKIANOBODY0000000000")), UnrecognizedClientException)
    assert message == "The security token included in the request is invalid."


def test_changed_body_is_a_mismatch() -> None:
    r = sign()
    tampered = replace(r, body=BODY.replace(b"AES_256", b"AES_128"))
    assert rejected(verifier(), tampered, InvalidSignatureException) == MISMATCH


def test_changed_signed_header_is_a_mismatch() -> None:
    r = sign().with_headers(x_amz_target="TrentService.Decrypt")
    assert rejected(verifier(), r, InvalidSignatureException) == MISMATCH


def test_changed_method_or_path_is_a_mismatch() -> None:
    r = sign()
    assert rejected(verifier(), replace(r, method="PUT"), InvalidSignatureException) == MISMATCH
    assert rejected(verifier(), replace(r, path="/other"), InvalidSignatureException) == MISMATCH


def test_signed_header_missing_from_the_request_is_a_mismatch() -> None:
    r = sign().with_headers(x_amz_target=None)
    assert rejected(verifier(), r, InvalidSignatureException) == MISMATCH


def test_unsigned_headers_may_change() -> None:
    r = sign().with_headers(user_agent="curl/8.0", content_length="999", x_forwarded_for="10.0.0.1")
    assert auth(verifier(), r).access_key_id == AKID


def test_tampered_signature_and_non_ascii_signature_are_mismatches() -> None:
    r = sign()
    flipped = r.with_authorization(lambda a: a[:-1] + ("0" if a[-1] != "0" else "1"))
    assert rejected(verifier(), flipped, InvalidSignatureException) == MISMATCH
    non_ascii = r.with_authorization(lambda a: a[:-1] + "é")
    assert rejected(verifier(), non_ascii, InvalidSignatureException) == MISMATCH


# -- canonicalisation --------------------------------------------------------------------------------------
def test_header_value_whitespace_is_normalised() -> None:
    # botocore signs "a b c" for "  a   b\t c "; the server receives the raw value and must canonicalise it.
    r = sign(Signing(headers={"X-Custom": "  a   b\t c "}))
    assert r.headers["x-custom"] == "  a   b\t c "
    assert auth(verifier(), r).access_key_id == AKID
    # Different raw spacing with the same canonical form still verifies; a different word does not.
    assert auth(verifier(), r.with_headers(x_custom="a b    c")).access_key_id == AKID
    assert rejected(verifier(), r.with_headers(x_custom="a b d"), InvalidSignatureException) == MISMATCH


def test_query_string_is_canonicalised() -> None:
    r = sign(Signing(url="http://127.0.0.1:4599/?b=2&a=x%2Fy&c=&a=1"))
    assert r.query == "b=2&a=x%2Fy&c=&a=1"
    assert auth(verifier(), r).access_key_id == AKID
    # Parameter order on the wire does not matter (the canonical form is sorted) ...
    assert auth(verifier(), replace(r, query="c=&a=1&a=x%2Fy&b=2")).access_key_id == AKID
    # ... but the values do.
    assert rejected(verifier(), replace(r, query="b=3&a=x%2Fy&c=&a=1"), InvalidSignatureException) == MISMATCH
    assert rejected(verifier(), replace(r, query=""), InvalidSignatureException) == MISMATCH


def test_query_encoding_variants_on_the_wire_are_equivalent() -> None:
    # SigV4 decodes and re-encodes each name and value, so a proxy that changes the case of the hex digits,
    # or a client that leaves "/" unencoded on the wire, still matches the canonical form botocore signed.
    r = sign(Signing(url="http://127.0.0.1:4599/?a=x%2Fy%3Az"))
    for wire in ("a=x%2fy%3az", "a=x/y:z"):
        assert auth(verifier(), replace(r, query=wire)).access_key_id == AKID, wire
    assert rejected(verifier(), replace(r, query="a=x%2Fy%3Ab"), InvalidSignatureException) == MISMATCH


def test_percent_encoded_and_dotted_paths() -> None:
    # Non-S3 SigV4 encodes the (already encoded) wire path once more and removes dot segments.
    for url in ("http://127.0.0.1:4599/a%20b/c~d", "http://127.0.0.1:4599/x/./y/../z//w/"):
        r = sign(Signing(url=url))
        assert auth(verifier(), r).access_key_id == AKID, url
    r = sign(Signing(url="http://127.0.0.1:4599/a%20b"))
    assert rejected(verifier(), replace(r, path="/a b"), InvalidSignatureException) == MISMATCH


def test_signed_content_sha256_header_must_match_the_body() -> None:
    r = sign(Signing(headers={"X-Amz-Content-SHA256": hashlib.sha256(BODY).hexdigest()}))
    assert "x-amz-content-sha256" in r.headers["authorization"]
    assert auth(verifier(), r).access_key_id == AKID
    assert rejected(verifier(), replace(r, body=b"{}"), InvalidSignatureException) == MISMATCH


def test_unsigned_payload_is_refused() -> None:
    r = sign(Signing(headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}))
    assert rejected(verifier(), r, InvalidSignatureException) == MISMATCH


# -- missing and malformed Authorization -------------------------------------------------------------------
@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_authorization(value: str | None) -> None:
    r = sign().with_headers(authorization=value)
    message = rejected(verifier(), r, MissingAuthenticationTokenException)
    assert message == "Missing Authentication Token"


REQUIRES_ALL = (
    "Authorization header requires 'Credential' parameter. "
    "Authorization header requires 'Signature' parameter. "
    "Authorization header requires 'SignedHeaders' parameter. "
)


def _drop(part: str) -> Callable[[str], str]:
    def fix(authorization: str) -> str:
        pieces = authorization.split(", ")
        pieces[0] = pieces[0].replace("AWS4-HMAC-SHA256 ", "")
        kept = [p for p in pieces if not p.startswith(part + "=")]
        return "AWS4-HMAC-SHA256 " + ", ".join(kept)

    return fix


@pytest.mark.parametrize(
    ("fix", "expected"),
    [
        (lambda a: "Bearer eyJhbGciOiJIUzI1NiJ9", REQUIRES_ALL + "Authorization=Bearer eyJhbGciOiJIUzI1NiJ9"),
        (lambda a: "AWS4-HMAC-SHA256", REQUIRES_ALL + "Authorization=AWS4-HMAC-SHA256"),
        (lambda a: a.replace("AWS4-HMAC-SHA256 ", "AWS AKIA:", 1), REQUIRES_ALL + "Authorization={a}"),
        (_drop("Signature"), "Authorization header requires 'Signature' parameter. Authorization={a}"),
        (
            _drop("SignedHeaders"),
            "Authorization header requires 'SignedHeaders' parameter. Authorization={a}",
        ),
        (_drop("Credential"), "Authorization header requires 'Credential' parameter. Authorization={a}"),
        (
            lambda a: a.replace("Signature=", "", 1),
            "'{sig}' not a valid key=value pair (missing equal-sign) in Authorization header: '{a}'.",
        ),
        (
            lambda a: a.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512", 1),
            "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now). ",
        ),
        (
            lambda a: a.replace(f"/{REGION}/kms/", "/kms/", 1),
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{AKID}/20240506/kms/aws4_request'",
        ),
        (
            lambda a: a.replace("/kms/", "/kms/extra/", 1),
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{AKID}/20240506/{REGION}/kms/extra/aws4_request'",
        ),
    ],
    ids=[
        "bearer",
        "scheme-only",
        "sigv2",
        "no-signature",
        "no-signed-headers",
        "no-credential",
        "missing-equals",
        "algorithm",
        "credential-4-parts",
        "credential-6-parts",
    ],
)
def test_malformed_authorization_is_incomplete(fix: Callable[[str], str], expected: str) -> None:
    r = sign().with_authorization(fix)
    a = r.headers["authorization"]
    sig = sign().headers["authorization"].rsplit("Signature=", 1)[1]
    message = rejected(verifier(), r, IncompleteSignatureException)
    assert message == expected.format(a=a, sig=sig)


@pytest.mark.parametrize(
    ("fix", "expected"),
    [
        (
            lambda a: a.replace("/aws4_request", "/aws5_request", 1),
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. ",
        ),
        (
            lambda a: a.replace(f"/{REGION}/", "//", 1),
            "Credential should be scoped to a valid region, not ''. ",
        ),
        (
            lambda a: a.replace(f"/{REGION}/", "/EU:West/", 1),
            "Credential should be scoped to a valid region, not 'EU:West'. ",
        ),
        (
            lambda a: a.replace(f"/{REGION}/kms/aws4_request", f"/{REGION}/sqs/aws5_request", 1),
            "Credential should be scoped to correct service: 'kms'. "
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. ",
        ),
        (
            lambda a: a.replace("SignedHeaders=content-type;host;", "SignedHeaders=content-type;", 1),
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ),
        (
            lambda a: a.replace(";x-amz-date;", ";", 1),
            "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.",
        ),
    ],
    ids=[
        "terminator",
        "empty-region",
        "bad-region",
        "service-and-terminator",
        "host-unsigned",
        "date-unsigned",
    ],
)
def test_bad_scope_or_signed_headers_is_invalid(fix: Callable[[str], str], expected: str) -> None:
    r = sign().with_authorization(fix)
    assert rejected(verifier(), r, InvalidSignatureException) == expected


def test_trailing_slash_after_the_credential_scope_is_ignored() -> None:
    r = sign().with_authorization(lambda a: a.replace("/aws4_request,", "/aws4_request/,", 1))
    assert "/aws4_request/," in r.headers["authorization"]
    assert auth(verifier(), r).access_key_id == AKID


def test_commas_without_spaces_are_accepted() -> None:
    r = sign().with_authorization(lambda a: a.replace(", ", ","))
    assert auth(verifier(), r).access_key_id == AKID
    r = sign().with_authorization(lambda a: a.replace(", ", " ,\t"))
    assert auth(verifier(), r).access_key_id == AKID


def test_missing_x_amz_date() -> None:
    r = sign().with_headers(x_amz_date=None)
    message = rejected(verifier(), r, IncompleteSignatureException)
    assert message == (
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        f"Authorization={r.headers['authorization']}"
    )


def test_missing_date_and_parameters_are_reported_together() -> None:
    r = sign().with_headers(x_amz_date=None, authorization="AWS4-HMAC-SHA256 Credential=x")
    message = rejected(verifier(), r, IncompleteSignatureException)
    assert message == (
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        "Authorization=AWS4-HMAC-SHA256 Credential=x"
    )


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-06T07:08:09Z",
        "20240506T070809",
        "20241306T070809Z",  # month 13
        "20240506T250809Z",  # hour 25
        "20240506T07 809Z",
        "\uff12\uff10240506T070809Z",  # full-width digits: str.isdigit() alone would accept them
        "20240506T\uff1070809Z",
    ],
)
def test_malformed_x_amz_date(value: str) -> None:
    message = rejected(verifier(), sign().with_headers(x_amz_date=value), IncompleteSignatureException)
    assert (
        message
        == f"Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
    )


def test_wrong_service_in_scope() -> None:
    message = rejected(verifier(), sign(Signing(service="dynamodb")), InvalidSignatureException)
    assert message == "Credential should be scoped to correct service: 'kms'. "


def test_scope_date_must_match_request_date() -> None:
    # Signed just before midnight; the X-Amz-Date is then moved (within the skew window) past midnight.
    before_midnight = datetime.datetime(2024, 5, 6, 23, 59, 30)
    r = sign(Signing(when=before_midnight)).with_headers(x_amz_date="20240507T000010Z")
    clock = before_midnight.replace(tzinfo=datetime.UTC).timestamp()
    message = rejected(verifier(clock_epoch=clock), r, InvalidSignatureException)
    assert message == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
        "'20240506' != '20240507', from '20240507T000010Z'."
    )


# -- clock skew --------------------------------------------------------------------------------------------
def test_request_older_than_the_window_has_expired() -> None:
    message = rejected(verifier(clock_epoch=SIGNED_EPOCH + 301), sign(), InvalidSignatureException)
    assert message == (
        "Signature expired: 20240506T070809Z is now earlier than 20240506T070810Z (20240506T071310Z - 5 min.)"
    )


def test_request_newer_than_the_window_is_not_yet_current() -> None:
    message = rejected(verifier(clock_epoch=SIGNED_EPOCH - 301), sign(), InvalidSignatureException)
    assert message == (
        "Signature not yet current: 20240506T070809Z is still later than 20240506T070808Z "
        "(20240506T070308Z + 5 min.)"
    )


@pytest.mark.parametrize("offset", [-300, -299, 0, 299, 300])
def test_skew_inside_the_window_is_accepted(offset: int) -> None:
    assert auth(verifier(clock_epoch=SIGNED_EPOCH + offset), sign()).access_key_id == AKID


def test_skew_window_is_configurable() -> None:
    v = verifier(clock_epoch=SIGNED_EPOCH + 61, max_skew_seconds=60)
    assert rejected(v, sign(), InvalidSignatureException).endswith("(20240506T070910Z - 1 min.)")
    assert auth(verifier(clock_epoch=SIGNED_EPOCH + 59, max_skew_seconds=60), sign()).access_key_id == AKID


def test_skew_is_checked_before_the_access_key() -> None:
    r = sign(Signing(akid="AKIANOBODY0000000000"))
    message = rejected(verifier(clock_epoch=SIGNED_EPOCH + 3600), r, InvalidSignatureException)
    assert message.startswith("Signature expired: ")


# -- dev mode ----------------------------------------------------------------------------------------------
def test_dev_mode_accepts_unknown_key_with_the_dev_identity() -> None:
    caller = auth(dev_verifier(), sign(Signing(akid="ANYTHINGGOES", region="ap-south-1")))
    assert caller == Caller("ANYTHINGGOES", DEV_ACCOUNT, f"arn:aws:iam::{DEV_ACCOUNT}:root", "ap-south-1")


def test_dev_mode_accepts_bad_signature_for_known_key_with_its_own_identity() -> None:
    caller = auth(dev_verifier(), sign(Signing(akid=OTHER_AKID, secret="wrong")))
    assert caller == Caller(OTHER_AKID, OTHER_ACCOUNT, f"arn:aws:iam::{OTHER_ACCOUNT}:user/alice", REGION)
    tampered = replace(sign(), body=b"{}")
    assert auth(dev_verifier(), tampered).account_id == ACCOUNT


def test_dev_mode_still_rejects_malformed_requests() -> None:
    v = dev_verifier()
    assert rejected(
        v, sign().with_authorization(_drop("Signature")), IncompleteSignatureException
    ).startswith("Authorization header requires 'Signature' parameter.")
    rejected(v, sign().with_headers(authorization=None), MissingAuthenticationTokenException)
    rejected(v, sign().with_headers(x_amz_date=None), IncompleteSignatureException)
    assert rejected(v, sign(Signing(service="s3")), InvalidSignatureException) == (
        "Credential should be scoped to correct service: 'kms'. "
    )


def test_dev_mode_still_enforces_the_skew_window() -> None:
    message = rejected(dev_verifier(clock_epoch=SIGNED_EPOCH + 301), sign(), InvalidSignatureException)
    assert message.startswith("Signature expired: ")
    message = rejected(dev_verifier(clock_epoch=SIGNED_EPOCH - 301), sign(), InvalidSignatureException)
    assert message.startswith("Signature not yet current: ")


@pytest.mark.parametrize("account", [None, "12345", "12345678901x"])
def test_dev_mode_needs_a_twelve_digit_account(account: str | None) -> None:
    with pytest.raises(ValueError, match="dev_account_id"):
        SigV4Verifier(default_store(), FixedClock(), check_signatures=False, dev_account_id=account)


# -- signing-key cache -------------------------------------------------------------------------------------
@pytest.fixture
def derivations(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Record every signing-key derivation as (yyyymmdd, region, service)."""
    calls: list[tuple[str, str, str]] = []
    real = sigv4.derive_signing_key

    def counting(secret: str, yyyymmdd: str, region: str, service: str) -> bytes:
        calls.append((yyyymmdd, region, service))
        return real(secret, yyyymmdd, region, service)

    monkeypatch.setattr(sigv4, "derive_signing_key", counting)
    return calls


def test_signing_key_is_derived_once_per_key_day_and_region(derivations: list[tuple[str, str, str]]) -> None:
    v = verifier()
    auth(v, sign())
    auth(v, sign(Signing(body=b"{}")))
    assert derivations == [("20240506", REGION, "kms")]
    auth(v, sign(Signing(region="us-east-1")))
    next_day = SIGNED_AT + datetime.timedelta(days=1)
    auth(
        verifier(clock_epoch=next_day.replace(tzinfo=datetime.UTC).timestamp()), sign(Signing(when=next_day))
    )
    assert derivations[1:] == [("20240506", "us-east-1", "kms"), ("20240507", REGION, "kms")]


def test_cached_key_is_not_reused_after_the_secret_changes(derivations: list[tuple[str, str, str]]) -> None:
    store = default_store()
    v = verifier(store=store)
    auth(v, sign())
    store.by_id[AKID] = Credential(AKID, "rotated-secret", ACCOUNT, PRINCIPAL)
    assert rejected(v, sign(), InvalidSignatureException) == MISMATCH
    assert auth(v, sign(Signing(secret="rotated-secret"))).access_key_id == AKID
    assert len(derivations) == 2


def test_cached_caller_follows_a_changed_identity() -> None:
    store = default_store()
    v = verifier(store=store)
    assert auth(v, sign()).account_id == ACCOUNT
    store.by_id[AKID] = Credential(AKID, SECRET, OTHER_ACCOUNT, f"arn:aws:iam::{OTHER_ACCOUNT}:root")
    assert auth(v, sign()) == Caller(AKID, OTHER_ACCOUNT, f"arn:aws:iam::{OTHER_ACCOUNT}:root", REGION)


def test_signing_key_cache_is_bounded(
    monkeypatch: pytest.MonkeyPatch, derivations: list[tuple[str, str, str]]
) -> None:
    monkeypatch.setattr(sigv4, "_SIGNING_KEY_CACHE_MAX", 2)
    v = verifier()
    regions = ["eu-west-1", "eu-west-2", "eu-west-3"]
    for region in regions:
        auth(v, sign(Signing(region=region)))
    assert len(v._key_cache) <= 2
    assert [d[1] for d in derivations] == regions
    auth(v, sign(Signing(region="eu-west-3")))  # the newest entry survived the clear
    assert len(derivations) == 3


# -- what must be signed ------------------------------------------------------------------------------------
def sign_without(*left_out: str, token: str | None = None, headers: dict[str, str] | None = None) -> Req:
    """A request whose signature is *valid* but does not cover ``left_out``."""
    with mock.patch.object(
        botocore.auth,
        "SigV4Auth",
        lambda credentials, service, region: SignerLeavingOut(credentials, region, frozenset(left_out)),
    ):
        r = sign(Signing(token=token, headers=headers or {}))
    signed = r.headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert not set(left_out) & set(signed), signed
    return r


@pytest.mark.parametrize(
    ("left_out", "token", "shown"),
    [
        ("x-amz-target", None, "X-Amz-Target"),
        ("x-amz-security-token", "FwoGZXIvYXdzEXAMPLETOKEN", "X-Amz-Security-Token"),
    ],
)
def test_every_x_amz_header_must_be_signed(left_out: str, token: str | None, shown: str) -> None:
    r = sign_without(left_out, token=token)
    message = rejected(verifier(), r, InvalidSignatureException)
    assert message == f"'{shown}' must be a 'SignedHeader' in the AWS Authorization."
    # The point: with X-Amz-Target unsigned, a captured DescribeKey could be replayed as DisableKey.
    swapped = r.with_headers(x_amz_target="TrentService.DisableKey")
    assert rejected(verifier(), swapped, InvalidSignatureException) == message


def test_an_x_amz_header_added_after_signing_is_refused() -> None:
    r = sign().with_headers(x_amz_meta_note="added by a proxy")
    message = rejected(verifier(), r, InvalidSignatureException)
    assert message == "'X-Amz-Meta-Note' must be a 'SignedHeader' in the AWS Authorization."


def test_the_checks_run_in_dev_mode_too() -> None:
    r = sign_without("x-amz-target")
    rejected(dev_verifier(), r, InvalidSignatureException)


@pytest.mark.usefixtures("local_zone_not_utc")
def test_the_date_header_must_be_signed_when_it_carries_the_date() -> None:
    r = sign_without("date", headers={"Date": "placeholder"})
    message = rejected(verifier(), r, InvalidSignatureException)
    assert message == "'Date' must be a 'SignedHeader' in the AWS Authorization."


def test_headers_other_than_x_amz_may_stay_unsigned() -> None:
    r = sign_without("content-type").with_headers(
        x_amzn_trace_id="Root=1-5759e988-bd862e3fe1be46a994272793",
        amz_sdk_invocation_id="b7b4d4a2-0000-0000-0000-000000000000",
        amz_sdk_request="attempt=1",
    )
    assert auth(verifier(), r).access_key_id == AKID


def test_what_botocore_signs_passes() -> None:
    # botocore signs every header it sends except a fixed list (user-agent, expect, x-amzn-trace-id, ...):
    # host, x-amz-date, x-amz-target, and x-amz-security-token with session credentials.
    r = sign(Signing(token="FwoGZXIvYXdzEXAMPLETOKEN"))
    signed = r.headers["authorization"].split("SignedHeaders=")[1].split(",")[0]
    assert signed == "content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
    assert auth(verifier(), r).access_key_id == AKID
