"""Vendor webhook signatures: Stripe, HubSpot v3, Zendesk; each signed here from the spec."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from adapters.billing.webhooks import verify_stripe
from adapters.crm.webhooks import verify_hubspot
from adapters.support.webhooks import verify_zendesk
from kernel.webhooks import SignatureRejected

SECRET = "whsec_test_secret"
BODY = b'{"id": "evt_1", "type": "customer.updated"}'
NOW = 1_790_000_000.0
TOLERANCE = 300.0
URI = "https://gateway.example/webhooks/crm"


def stripe_header(body: bytes = BODY, secret: str = SECRET, timestamp: int = int(NOW)) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def b64_hmac(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def hubspot_headers(
    body: bytes = BODY, secret: str = SECRET, timestamp_ms: int = int(NOW * 1000)
) -> tuple[str, str]:
    message = b"POST" + URI.encode() + body + str(timestamp_ms).encode()
    return b64_hmac(secret, message), str(timestamp_ms)


def zendesk_headers(
    body: bytes = BODY, secret: str = SECRET, timestamp: str = "2026-09-21T14:13:20Z"
) -> tuple[str, str]:
    return b64_hmac(secret, timestamp.encode() + body), timestamp


def check_stripe(header: str | None, body: bytes = BODY) -> None:
    verify_stripe(header, body, SECRET, now=NOW, tolerance=TOLERANCE)


def check_hubspot(signature: str | None, timestamp: str | None, body: bytes = BODY) -> None:
    verify_hubspot(
        signature,
        timestamp,
        method="POST",
        uri=URI,
        body=body,
        secret=SECRET,
        now=NOW,
        tolerance=TOLERANCE,
    )


def check_zendesk(signature: str | None, timestamp: str | None, body: bytes = BODY) -> None:
    verify_zendesk(signature, timestamp, body, SECRET, now=NOW, tolerance=TOLERANCE)


def reason(excinfo: pytest.ExceptionInfo[SignatureRejected]) -> str:
    return excinfo.value.reason


# --- Stripe --------------------------------------------------------------------------------


def test_stripe_accepts_a_valid_signature() -> None:
    check_stripe(stripe_header())


def test_stripe_accepts_any_matching_v1_while_a_secret_is_rolled() -> None:
    rolled = stripe_header(secret="whsec_old")
    valid = stripe_header().split(",")[1]

    check_stripe(f"{rolled},{valid}")


def test_stripe_refuses_a_wrong_secret() -> None:
    with pytest.raises(SignatureRejected) as excinfo:
        check_stripe(stripe_header(secret="whsec_other"))
    assert reason(excinfo) == "bad_signature"


def test_stripe_refuses_an_expired_timestamp() -> None:
    with pytest.raises(SignatureRejected) as excinfo:
        check_stripe(stripe_header(timestamp=int(NOW - TOLERANCE - 1)))
    assert reason(excinfo) == "stale_timestamp"


def test_stripe_refuses_a_timestamp_too_far_ahead() -> None:
    with pytest.raises(SignatureRejected) as excinfo:
        check_stripe(stripe_header(timestamp=int(NOW + TOLERANCE + 1)))
    assert reason(excinfo) == "stale_timestamp"


def test_stripe_refuses_a_tampered_body() -> None:
    with pytest.raises(SignatureRejected) as excinfo:
        check_stripe(stripe_header(), body=BODY.replace(b"evt_1", b"evt_2"))
    assert reason(excinfo) == "bad_signature"


def test_stripe_refuses_a_missing_header() -> None:
    with pytest.raises(SignatureRejected) as excinfo:
        check_stripe(None)
    assert reason(excinfo) == "missing_signature"


@pytest.mark.parametrize("header", ["garbage", "t=abc,v1=00", f"t={int(NOW)}", "v1=00"])
def test_stripe_refuses_a_header_of_the_wrong_shape(header: str) -> None:
    with pytest.raises(SignatureRejected) as excinfo:
        check_stripe(header)
    assert reason(excinfo) == "bad_signature"


# --- HubSpot -------------------------------------------------------------------------------


def test_hubspot_accepts_a_valid_signature() -> None:
    check_hubspot(*hubspot_headers())


def test_hubspot_refuses_a_wrong_secret() -> None:
    with pytest.raises(SignatureRejected) as excinfo:
        check_hubspot(*hubspot_headers(secret="other"))
    assert reason(excinfo) == "bad_signature"


def test_hubspot_refuses_an_expired_timestamp() -> None:
    with pytest.raises(SignatureRejected) as excinfo:
        check_hubspot(*hubspot_headers(timestamp_ms=int((NOW - TOLERANCE - 1) * 1000)))
    assert reason(excinfo) == "stale_timestamp"


def test_hubspot_refuses_a_tampered_body() -> None:
    with pytest.raises(SignatureRejected) as excinfo:
        check_hubspot(*hubspot_headers(), body=BODY + b" ")
    assert reason(excinfo) == "bad_signature"


def test_hubspot_signature_covers_the_uri() -> None:
    signature, timestamp = hubspot_headers()
    with pytest.raises(SignatureRejected) as excinfo:
        verify_hubspot(
            signature,
            timestamp,
            method="POST",
            uri=URI + "?x=1",
            body=BODY,
            secret=SECRET,
            now=NOW,
            tolerance=TOLERANCE,
        )
    assert reason(excinfo) == "bad_signature"


@pytest.mark.parametrize("missing", ["signature", "timestamp"])
def test_hubspot_refuses_a_missing_header(missing: str) -> None:
    signature, timestamp = hubspot_headers()
    with pytest.raises(SignatureRejected) as excinfo:
        check_hubspot(
            None if missing == "signature" else signature,
            None if missing == "timestamp" else timestamp,
        )
    assert reason(excinfo) == "missing_signature"


def test_hubspot_refuses_a_signature_that_is_not_base64() -> None:
    with pytest.raises(SignatureRejected) as excinfo:
        check_hubspot("not base64!", hubspot_headers()[1])
    assert reason(excinfo) == "bad_signature"


# --- Zendesk -------------------------------------------------------------------------------


def test_zendesk_accepts_a_valid_signature() -> None:
    check_zendesk(*zendesk_headers())


def test_zendesk_refuses_a_wrong_secret() -> None:
    with pytest.raises(SignatureRejected) as excinfo:
        check_zendesk(*zendesk_headers(secret="other"))
    assert reason(excinfo) == "bad_signature"


def test_zendesk_refuses_an_expired_timestamp() -> None:
    with pytest.raises(SignatureRejected) as excinfo:
        check_zendesk(*zendesk_headers(timestamp="2026-09-21T14:08:19Z"))
    assert reason(excinfo) == "stale_timestamp"


def test_zendesk_refuses_a_tampered_body() -> None:
    with pytest.raises(SignatureRejected) as excinfo:
        check_zendesk(*zendesk_headers(), body=BODY.upper())
    assert reason(excinfo) == "bad_signature"


@pytest.mark.parametrize("missing", ["signature", "timestamp"])
def test_zendesk_refuses_a_missing_header(missing: str) -> None:
    signature, timestamp = zendesk_headers()
    with pytest.raises(SignatureRejected) as excinfo:
        check_zendesk(
            None if missing == "signature" else signature,
            None if missing == "timestamp" else timestamp,
        )
    assert reason(excinfo) == "missing_signature"


def test_zendesk_refuses_a_signed_timestamp_that_is_not_a_time() -> None:
    with pytest.raises(SignatureRejected) as excinfo:
        check_zendesk(*zendesk_headers(timestamp="yesterday"))
    assert reason(excinfo) == "bad_signature"
