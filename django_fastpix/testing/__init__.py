"""A fake FastPix API server for tests: real HTTP on 127.0.0.1, in-memory state.

Quick start::

    from django_fastpix.testing import FakeFastPix

    with FakeFastPix() as fake:
        fake.add_token("token-id", "secret")            # Video read_write, workspace "ws-default"
        fake.add_token("keys-id", "secret", system="read_write")  # may manage signing keys
        ...  # point the client at fake.base_url ("http://127.0.0.1:PORT/v1")

With pytest, add `pytest_plugins = ["django_fastpix.testing.pytest_plugin"]` to the root
conftest and use the `fastpix_fake` / `fastpix_fake_token` fixtures.

Conventions:

* Media whose input URL contains "fail" (or a substring given to `fail_inputs_matching`)
  end Failed; `fail_media(id)` does the same for an uploaded media.
* Media move Created -> Processing -> Ready on a background timer (`processing_delay`
  seconds, 0 = at once); set `auto_advance = False` and call `advance()` /
  `finish_processing()` to step them by hand.
* Route patterns (for `inject` and `requests_for`) are `"[METHOD ]PATH"` with PATH relative
  to /v1: `"POST /on-demand"`, `"GET /on-demand/{mediaId}"`, `"/live/*"`, `"*"`.
  `{name}` matches one path segment, `*` matches anything (also across `/`).
* Webhooks are retried after each delay of `webhook_retry_schedule` times
  `webhook_time_scale` (quick by default; `FakeFastPix.FASTPIX_WEBHOOK_RETRIES` spans a day).
  `request_counts()` counts requests by token (hint) and route. The command line
  (`python -m django_fastpix.testing --help`) takes `--fault ROUTE:OPTIONS`,
  `--webhook-retries` and `--time-scale` (see `specs`).
* Tokens carry a level ("none", "read", "read_write") per area, as FastPix grants them:
  Video (`scope`: media, uploads, playback ids, live streams), System (`system`: the
  /iam/signing-keys routes) and Data (`data`). A call outside the grant gets 403 "forbidden"
  whose description names the permission missing.
* `fake.stream_base_url` (`{origin}/stream`) and `fake.image_base_url` (`{origin}/images`)
  stand in for stream.fastpix.com and images.fastpix.com: `{playbackId}.m3u8`,
  `{playbackId}/thumbnail.{jpg,png,webp}`, `clip.{gif,webp}`, `spritesheet.jpg`, served once
  the media is Ready (412 before), to anyone for a public playback id and with `?token=` (an
  RS256 JWT from a signing key of its workspace, `aud` `media:{playbackId}`) for a private
  one: 401 without, 403 naming the reason otherwise. The JWT is masked in the request log.
* A direct upload's `url` points at the fake itself (`PUT /uploads/{uploadId}?signature=..`,
  no Basic auth, like a signed storage URL); the PUT creates the media.
"""

from .counts import RequestCounts
from .fake import DEFAULT_WORKSPACE, FakeFastPix
from .faults import Fault
from .routing import RoutePattern
from .server import RequestRecord
from .webhooks import Delivery, sign

__all__ = [
    "DEFAULT_WORKSPACE",
    "Delivery",
    "FakeFastPix",
    "Fault",
    "RequestCounts",
    "RequestRecord",
    "RoutePattern",
    "sign",
]
