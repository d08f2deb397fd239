"""Playback: the stream and image URLs of a playback id, and the JWTs private ones need.

One place mints tokens, and every surface (template tags, the video field, the site's own
code) goes through it. A public playback id gets no token. A private one gets a short-lived
RS256 token signed with the workspace's active signing key (FastPix's scheme: header ``kid``;
claims ``kid``, ``aud`` ``media:{playbackId}`` (stream, thumbnail, spritesheet) or
``drm:{playbackId}``, ``iat``, ``exp``, optional ``sub``). Tokens are minted per request:
never cache a page holding one for longer than its lifetime.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote, urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from django.views.decorators.debug import sensitive_variables

from ..conf import fastpix_settings
from ..exceptions import SigningKeyError
from ..models import SigningKey, Workspace
from .signing_keys import signing_key_for, token_lifetime

if TYPE_CHECKING:
    from ..models import PlaybackId
    from ..models.live import LivePlayback

    # What a token can be minted for: a media's playback id or a live stream's.
    Signable = PlaybackId | LivePlayback

Audience = Literal["media", "drm"]
AUDIENCES: tuple[Audience, ...] = ("media", "drm")
IMAGE_FORMATS = {"thumbnail": ("jpg", "png", "webp"), "clip": ("gif", "webp")}
FIT_MODES = ("preserve", "stretch", "crop", "smartcrop", "pad")

# Parsed private keys by (row, key id): parsing a PEM costs more than signing with it.
_LOADED_KEYS: OrderedDict[tuple[int, str], RSAPrivateKey] = OrderedDict()
_LOADED_KEYS_MAX = 32
_LOCK = threading.Lock()


def is_private(playback: Signable) -> bool:
    """Whether ``playback`` needs a token (private and DRM playback ids do)."""
    return playback.access_policy != "public"


@sensitive_variables()
def _private_key(key: SigningKey) -> RSAPrivateKey:
    assert key.pk is not None
    cache_key = (key.pk, key.fastpix_id)
    with _LOCK:
        loaded = _LOADED_KEYS.get(cache_key)
        if loaded is not None:
            _LOADED_KEYS.move_to_end(cache_key)
            return loaded
    try:
        parsed = serialization.load_pem_private_key(key.private_key_pem().encode(), None)
    except ValueError:
        raise SigningKeyError(
            f"The stored private key of signing key {key.fastpix_id} is not a PEM RSA key: "
            "rotate it (`manage.py fastpix_signing_keys rotate`)."
        ) from None
    if not isinstance(parsed, RSAPrivateKey):
        raise SigningKeyError(f"Signing key {key.fastpix_id} is not an RSA key.")
    with _LOCK:
        _LOADED_KEYS[cache_key] = parsed
        while len(_LOADED_KEYS) > _LOADED_KEYS_MAX:
            _LOADED_KEYS.popitem(last=False)
    return parsed


def mint_token(
    workspace: Workspace,
    playback_id: str,
    *,
    audience: Audience = "media",
    lifetime: int | None = None,
    subject: str | None = None,
    key: SigningKey | None = None,
) -> str:
    """A playback JWT for ``playback_id`` of ``workspace``.

    ``key`` defaults to the workspace's active signing key (one query; created through
    FastPix on first need). ``lifetime`` is clamped to 60 s .. 24 h. Pass ``key`` when minting
    many tokens in one request (see ``PlaybackSigner``).
    """
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {AUDIENCES}, not {audience!r}")
    if not playback_id:
        raise ValueError("A playback id is required to mint a playback token.")
    if key is None:
        key = signing_key_for(workspace)
    elif key.workspace_id != workspace.pk or not key.signs_new_tokens:
        raise SigningKeyError(f"{key} cannot sign tokens for workspace {workspace.slug!r}.")
    now = int(time.time())
    claims: dict[str, object] = {
        "kid": key.fastpix_id,
        "aud": f"{audience}:{playback_id}",
        "iat": now,
        "exp": now + token_lifetime(lifetime),
    }
    if subject is not None:
        claims["sub"] = subject
    return jwt.encode(claims, _private_key(key), algorithm="RS256", headers={"kid": key.fastpix_id})


class PlaybackSigner:
    """Mints the tokens of one request: each workspace's key is read once, not per video.

    Template tags keep one per request, so a page listing fifty private videos costs one
    signing-key query per workspace, and a key revoked before the request began is not used.
    """

    def __init__(self, *, lifetime: int | None = None) -> None:
        self.lifetime = lifetime
        self._keys: dict[int, SigningKey] = {}
        self.minted = 0

    def token(
        self, playback: Signable, *, audience: Audience = "media", subject: str | None = None
    ) -> str | None:
        """The token ``playback`` needs, or None for a public playback id."""
        if not is_private(playback):
            return None
        # By id: a page need not join the workspace (and decrypt its webhook secrets) per row.
        workspace_id = playback.workspace_id
        key = self._keys.get(workspace_id)
        if key is None:
            key = SigningKey.objects.signing(workspace_id).select_related("workspace").first()
            if key is None:
                workspace = Workspace.objects.defer(
                    "webhook_secret", "previous_webhook_secret"
                ).get(pk=workspace_id)
                key = signing_key_for(workspace)
            self._keys[workspace_id] = key
        self.minted += 1
        return mint_token(
            key.workspace,
            playback.fastpix_id,
            audience=audience,
            lifetime=self.lifetime,
            subject=subject,
            key=key,
        )


def playback_token(
    playback: PlaybackId,
    *,
    audience: Audience = "media",
    lifetime: int | None = None,
    subject: str | None = None,
) -> str | None:
    """The token ``playback`` needs now, or None for a public playback id."""
    return PlaybackSigner(lifetime=lifetime).token(playback, audience=audience, subject=subject)


def _with_query(url: str, params: dict[str, object]) -> str:
    present = {k: v for k, v in params.items() if v is not None and v != ""}
    return f"{url}?{urlencode(present)}" if present else url


def _non_negative_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return number >= 0 and number != float("inf")


def stream_url(playback_id: str, *, token: str | None = None) -> str:
    """The HLS (.m3u8) URL of a playback id, for sites that bring their own player."""
    base = fastpix_settings.STREAM_BASE_URL.rstrip("/")
    return _with_query(f"{base}/{quote(playback_id, safe='')}.m3u8", {"token": token})


def image_url(
    playback_id: str,
    kind: Literal["thumbnail", "clip", "spritesheet"] = "thumbnail",
    *,
    format: str | None = None,
    time: float | None = None,
    width: int | None = None,
    height: int | None = None,
    fit_mode: str | None = None,
    token: str | None = None,
) -> str:
    """A thumbnail (jpg/png/webp), animated clip (gif/webp) or spritesheet URL.

    Bad values raise ValueError here rather than becoming a broken image on the page.
    """
    if kind == "spritesheet":
        format = format or "jpg"
        if format != "jpg":
            raise ValueError("A spritesheet is a jpg.")
    else:
        allowed = IMAGE_FORMATS.get(kind)
        if allowed is None:
            raise ValueError(f"Unknown image kind {kind!r}: thumbnail, clip or spritesheet.")
        format = format or allowed[0]
        if format not in allowed:
            raise ValueError(f"A {kind} is one of {', '.join(allowed)}, not {format!r}.")
    for name, value in (("time", time), ("width", width), ("height", height)):
        if value is not None and not _non_negative_number(value):
            raise ValueError(f"{name} must be a number ≥ 0, not {value!r}.")
    if fit_mode is not None and fit_mode not in FIT_MODES:
        raise ValueError(f"fit_mode is one of {', '.join(FIT_MODES)}, not {fit_mode!r}.")
    base = fastpix_settings.IMAGE_BASE_URL.rstrip("/")
    path = f"{base}/{quote(playback_id, safe='')}/{kind}.{format}"
    return _with_query(
        path,
        {
            "time": time,
            "width": width,
            "height": height,
            "fit_mode": fit_mode,
            "token": token,
        },
    )
