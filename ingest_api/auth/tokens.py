"""Access tokens: JWTs signed with JWT_SECRET (HS256 only, whatever a token's header says).

A token names the user (`sub`, the user id), their email and role at issue time, and expires
after JWT_TTL_MINUTES. Verification fixes the algorithm, issuer and audience server-side, so
`alg: none` and tokens signed with any other algorithm or key are refused.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from orchestrator_core.settings import Settings
from orchestrator_core.users import User

ALGORITHM = "HS256"
ISSUER = "hubspot-orchestrator"
AUDIENCE = "hubspot-orchestrator-api"
MIN_SECRET_LENGTH = 32
# Values people paste from examples; refused like a missing secret.
_PLACEHOLDER_MARKERS = ("change", "replace", "placeholder", "example", "secret")


class InsecureSecretError(ValueError):
    """JWT_SECRET is missing or not a real secret; the message says which and what to do."""


class InvalidToken(Exception):
    """The token is missing, malformed, forged, expired or for a disabled account."""


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    email: str
    role: str
    issued_at: datetime
    expires_at: datetime


def jwt_secret(settings: Settings) -> str:
    """JWT_SECRET, or `InsecureSecretError` when it is unset or a placeholder."""
    how = (
        "set it to a random value, e.g."
        " `python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
    )
    if settings.jwt_secret is None:
        raise InsecureSecretError(f"JWT_SECRET is not set: {how}")
    secret = settings.jwt_secret.get_secret_value()
    if len(secret) < MIN_SECRET_LENGTH:
        raise InsecureSecretError(
            f"JWT_SECRET is shorter than {MIN_SECRET_LENGTH} characters: {how}"
        )
    lowered = secret.lower()
    if any(marker in lowered for marker in _PLACEHOLDER_MARKERS) or len(set(secret)) < 10:
        raise InsecureSecretError(f"JWT_SECRET looks like a placeholder, not a secret: {how}")
    return secret


def generate_secret() -> str:
    return secrets.token_urlsafe(48)


def issue_token(
    user: User, *, secret: str, ttl: timedelta, now: datetime | None = None
) -> tuple[str, datetime]:
    """A signed token for `user` and when it expires."""
    issued = now or datetime.now(UTC)
    expires = issued + ttl
    claims = {
        "sub": str(user.id),
        "email": user.email,
        "role": user.role,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": issued,
        "exp": expires,
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM), expires


def decode_token(token: str, *, secret: str) -> TokenClaims:
    """The claims of a valid token; `InvalidToken` saying why otherwise."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["sub", "exp", "iat", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the access token has expired; log in again") from None
    except jwt.InvalidAlgorithmError:
        raise InvalidToken(f"the access token is not signed with {ALGORITHM}") from None
    except jwt.InvalidSignatureError:
        raise InvalidToken("the access token's signature does not verify") from None
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"the access token is invalid: {exc}") from None
    try:
        return TokenClaims(
            user_id=int(claims["sub"]),
            email=str(claims["email"]),
            role=str(claims["role"]),
            issued_at=datetime.fromtimestamp(claims["iat"], UTC),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )
    except (KeyError, ValueError, TypeError, OverflowError, OSError):
        raise InvalidToken("the access token lacks the user's id, email or role") from None
