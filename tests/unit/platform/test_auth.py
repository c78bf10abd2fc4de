"""Token verification: HS256 by default, RS256 by configuration."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.errors import Unauthorized
from shared.settings import Settings
from shared.web import auth
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


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    """A JWKS endpoint on loopback with one RS256 signing key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", key
    server.shutdown()
    server.server_close()


def test_a_token_verified_through_a_jwks_is_checked_again_after_the_recheck_time(
    jwks_server: tuple[str, rsa.RSAPrivateKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, key = jwks_server
    verifier = TokenVerifier(Settings(jwt_algorithm="RS256", jwks_url=url))
    checks: list[str] = []
    check = verifier._verify

    def counting(token: str) -> tuple[Principal, float]:
        checks.append(token)
        return check(token)

    monkeypatch.setattr(verifier, "_verify", counting)
    token = jwt.encode(claims(), key, algorithm="RS256", headers={"kid": "k1"})
    assert verifier.verify(token).ward == "nerima"
    assert verifier.verify(token).ward == "nerima"
    assert len(checks) == 1  # known, within the recheck time
    monkeypatch.setattr(auth, "JWKS_TOKEN_RECHECK_SECONDS", 0.0)
    fresh = jwt.encode(claims(sub="u2"), key, algorithm="RS256", headers={"kid": "k1"})
    verifier.verify(fresh)
    verifier.verify(fresh)
    assert checks[1:] == [fresh, fresh]  # with no recheck time, every use checks the signature


def test_a_principals_event_actor_is_made_once_with_its_highest_role() -> None:
    principal = Principal(subject="u1", ward="nerima", roles=frozenset({"staff", "finance"}))
    actor = principal.event_actor()
    assert actor is principal.event_actor()
    assert actor.subject == "u1"
    assert actor.role == next(role for role in auth.ROLES if role in principal.roles)
    assert Principal(subject="u2", ward="", roles=frozenset()).event_actor().role == "anonymous"
