"""What the fake's playback hosts send: tiny valid images and HLS playlists.

The images are 1x1 pixels (the animated ones two frames), so a browser, an image library or
a player can decode what the app's pages point at without the fake shipping real media.
They were encoded once with Pillow and checked to decode; tests check the magic bytes.
"""

from __future__ import annotations

import base64
import math
import time

HLS_CONTENT_TYPE = "application/vnd.apple.mpegurl"

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mNQSFgAAAHEASFcollRAAAAAElFTkSuQmCC"
)
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERX"
    "RTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2Nj"
    "Y2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAABAAEDASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAA"
    "AAX/xAAUEAEAAAAAAAAAAAAAAAAAAAAA/8QAFAEBAAAAAAAAAAAAAAAAAAAABf/EABQRAQAAAAAAAAAAAAAAAAAA"
    "AAD/2gAMAwEAAhEDEQA/AJIBQc//2Q=="
)
WEBP = base64.b64decode("UklGRh4AAABXRUJQVlA4TBEAAAAvAAAAAAdQsIIUtP+BiOh/AAA=")
# Two frames, looping: clip.gif / clip.webp are animations.
ANIMATED_GIF = base64.b64decode(
    "R0lGODlhAQABAIEAACBgoAAAAAAAAAAAACH/C05FVFNDQVBFMi4wAwEAAAAh+QQAMgAAACwAAAAAAQABAAAIBAAB"
    "BAQAIfkEATIAAQAsAAAAAAEAAQCBoGAgAAAAAAAAAAAACAQAAQQEADs="
)
ANIMATED_WEBP = base64.b64decode(
    "UklGRogAAABXRUJQVlA4WAoAAAACAAAAAAAAAAAAQU5JTQYAAAAAAAAAAABBTk1GKgAAAAAAAAAAAAAAAAAAAPQB"
    "AAJWUDhMEQAAAC8AAAAAB1CwghS0/4GI6H8AAEFOTUYqAAAAAAAAAAAAAAAAAAAA9AEAAFZQOEwRAAAALwAAAAAH"
    "ULCCFqT/gYjofwAA"
)

#: (name, extension) -> (content type, bytes), the image URLs FastPix documents.
IMAGES: dict[tuple[str, str], tuple[str, bytes]] = {
    ("thumbnail", "jpg"): ("image/jpeg", JPEG),
    ("thumbnail", "png"): ("image/png", PNG),
    ("thumbnail", "webp"): ("image/webp", WEBP),
    ("clip", "gif"): ("image/gif", ANIMATED_GIF),
    ("clip", "webp"): ("image/webp", ANIMATED_WEBP),
    ("spritesheet", "jpg"): ("image/jpeg", JPEG),
}

LIVE_SEGMENT_SECONDS = 2


def vod_playlist(duration_seconds: int) -> bytes:
    """A finished (ENDLIST) media playlist of one segment as long as the media.

    The segment URI is relative to the playlist and not served: enough for code that reads
    or validates the playlist, not for a player that wants frames.
    """
    seconds = max(1, duration_seconds)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{seconds}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        f"#EXTINF:{seconds:.3f},",
        "segment-0.ts",
        "#EXT-X-ENDLIST",
    ]
    return ("\n".join(lines) + "\n").encode()


def live_playlist(now: float | None = None) -> bytes:
    """A live sliding-window playlist: no ENDLIST, the sequence number moves with the clock."""
    sequence = math.floor((time.time() if now is None else now) / LIVE_SEGMENT_SECONDS)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{LIVE_SEGMENT_SECONDS}",
        f"#EXT-X-MEDIA-SEQUENCE:{sequence}",
        f"#EXTINF:{LIVE_SEGMENT_SECONDS:.3f},",
        f"segment-{sequence}.ts",
    ]
    return ("\n".join(lines) + "\n").encode()
