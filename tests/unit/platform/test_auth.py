"""Token verification: HS256 by default, RS256 by configuration."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.errors import Unauthorized
from shared.settings import Settings
from shared.web.auth import PLATFORM_WARD, Principal, TokenVerifier, issue_token


def claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "sub": "u1",
        "ward": "nerima",
        "roles": ["staff"],
        "iss": "kyodo",
        "aud": "kyodo",
        "iat": now,
        "exp": now + 60,
    }
    return {**base, **overrides}


def test_development_token_round_trips() -> None:
    settings = Settings()
    token = issue_token(settings, ward="ota", roles=["actor"], actor_id="a-1")
    principal = TokenVerifier(settings).verify(token)
    assert principal == Principal(
        subject="actor@ota", ward="ota", roles=frozenset({"actor"}), actor_id="a-1"
    )


def test_rs256_tokens_verify_with_the_configured_public_key() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings = Settings(jwt_algorithm="RS256", jwt_public_key=public_pem)
    verifier = TokenVerifier(settings)
    assert verifier.verify(jwt.encode(claims(), key, algorithm="RS256")).ward == "nerima"
    forged = jwt.encode(claims(), "a-shared-secret-that-is-long-enough-32b", algorithm="HS256")
    with pytest.raises(Unauthorized):
        verifier.verify(forged)


@pytest.mark.parametrize(
    "bad",
    [
        claims(exp=int(time.time()) - 10),
        claims(aud="someone-else"),
        claims(roles=["superuser"]),
        {k: v for k, v in claims().items() if k != "ward"},
    ],
)
def test_expired_foreign_or_incomplete_tokens_are_refused(bad: dict[str, object]) -> None:
    settings = Settings()
    with pytest.raises(Unauthorized):
        TokenVerifier(settings).verify(jwt.encode(bad, settings.jwt_secret, algorithm="HS256"))


def test_only_platform_roles_act_across_wards() -> None:
    auditor = Principal("a", PLATFORM_WARD, frozenset({"auditor"}))
    star_staff = Principal("s", PLATFORM_WARD, frozenset({"staff"}))
    staff = Principal("s", "nerima", frozenset({"staff"}))
    assert auditor.acts_for("ota") and auditor.acts_for("nerima")
    assert not star_staff.acts_for("ota")
    assert staff.acts_for("nerima") and not staff.acts_for("ota")


def test_a_verified_token_is_refused_once_it_expires() -> None:
    settings = Settings()
    verifier = TokenVerifier(settings)
    expires = time.time() + 1.0
    token = jwt.encode(claims(exp=int(expires) + 1), settings.jwt_secret, algorithm="HS256")
    assert verifier.verify(token).ward == "nerima"
    assert verifier.verify(token).ward == "nerima"  # known: no second signature check
    time.sleep(max(0.0, int(expires) + 1 - time.time()) + 0.05)
    with pytest.raises(Unauthorized):
        verifier.verify(token)


def test_a_token_with_a_tampered_signature_is_refused_after_the_genuine_one() -> None:
    settings = Settings()
    verifier = TokenVerifier(settings)
    token = jwt.encode(claims(), settings.jwt_secret, algorithm="HS256")
    verifier.verify(token)
    header, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    with pytest.raises(Unauthorized):
        verifier.verify(f"{header}.{payload}.{flipped}")
