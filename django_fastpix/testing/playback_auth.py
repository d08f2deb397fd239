"""The playback hosts' check of a private playback id's `?token=` JWT, as FastPix makes it.

FastPix signs nothing here: the app mints an RS256 JWT with the private half of a signing key
of the playback id's workspace, the header's `kid` naming the key, `aud` =
`media:{playbackId}` and an `exp`. The CDN verifies it against the public half FastPix kept.
Every refusal is a 403 whose message says which rule failed (never the token itself), so
a failing test points at the app's mistake.
"""

from __future__ import annotations

from typing import Any

import jwt

from .state import Store, Workspace
from .validation import ApiError

ALGORITHM = "RS256"
# Clock skew allowed on `exp` (and `iat`/`nbf`): the app and the fake share a clock, so this
# only absorbs whole-second rounding; a token a few seconds past `exp` is refused.
LEEWAY_SECONDS = 2


def _refuse(message: str, description: str) -> ApiError:
    return ApiError(403, message, description)


def audience(playback_id: str) -> str:
    """The `aud` a token for the stream, thumbnail and spritesheet of a playback id carries."""
    return f"media:{playback_id}"


def check_playback_token(
    store: Store, workspace: Workspace, playback_id: str, token: str | None
) -> dict[str, Any]:
    """The token's claims if it grants ``playback_id`` of ``workspace``; else 401/403."""
    if not token:
        raise ApiError(
            401,
            "token required",
            "This playbackId is private: add ?token= with a JWT signed by a signing key of "
            "its workspace.",
        )
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise _refuse("malformed token", "The token is not a JWT.") from None
    alg = header.get("alg")
    if alg != ALGORITHM:
        raise _refuse(
            "algorithm not allowed",
            f"The token is signed with {alg!r}; only {ALGORITHM} with a signing key is accepted.",
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _refuse("kid missing", "The token's header has no kid naming its signing key.")
    key = store.signing_keys.get(kid)
    if key is None:
        raise _refuse(
            "unknown signing key",
            f"No signing key {kid} exists (never created, or deleted: deletion applies at once).",
        )
    if key.workspace.id != workspace.id:
        raise _refuse(
            "signing key of another workspace",
            f"Signing key {kid} belongs to another workspace than this playbackId; signing "
            "keys are per workspace.",
        )
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.public_key_pem,
            algorithms=[ALGORITHM],
            leeway=LEEWAY_SECONDS,
            # `aud` is compared below: PyJWT would also accept a list containing it.
            options={"require": ["exp"], "verify_aud": False},
        )
    except jwt.InvalidSignatureError:
        raise _refuse(
            "invalid signature",
            f"The signature does not verify with the public key of signing key {kid}.",
        ) from None
    except jwt.ExpiredSignatureError:
        raise _refuse("token expired", "The token's exp has passed.") from None
    except jwt.MissingRequiredClaimError as exc:
        raise _refuse("claim missing", f"The token has no {exc.claim} claim.") from None
    except jwt.ImmatureSignatureError:
        raise _refuse("token not yet valid", "The token's iat or nbf is in the future.") from None
    except jwt.InvalidTokenError as exc:
        raise _refuse("invalid token", f"The token was refused ({type(exc).__name__}).") from None
    expected = audience(playback_id)
    if claims.get("aud") != expected:
        raise _refuse(
            "wrong audience",
            f"The token's aud must be {expected!r} (one token per playbackId).",
        )
    if "kid" in claims and claims["kid"] != kid:
        raise _refuse("kid mismatch", "The token's kid claim differs from its header's kid.")
    return claims
