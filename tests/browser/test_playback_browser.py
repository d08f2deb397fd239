"""A visitor sees a correctly signed player for a private video, end to end in a real browser.

The real example site (example_project/) runs as a `runserver` subprocess against a fake FastPix
started in this process: lessons are saved through `manage.py shell`, so the site's own
save -> media -> FastPix flow runs, the fake's signed webhooks make them ready, and headless
Chromium loads the pages and asks the fake's stream and image hosts for what the page rendered.
The real player script is not available offline: the test checks the element and the signed
requests, not the player itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import jwt
import pytest

from django_fastpix.testing import FakeFastPix
from tests.browser.site import Site, fake_fastpix, fetch, run_script, run_site
from tests.processes import wait_for

pytestmark = pytest.mark.browser

CREATE_LESSONS = """
import json, os
from videos.models import Lesson
out = {}
for key, title, url, private in json.loads(os.environ["E2E_LESSONS"]):
    out[key] = Lesson.objects.create(title=title, video_url=url, private=private).pk
print("E2E_JSON=" + json.dumps(out))
"""

SIGNING_KEY = """
import json
from django_fastpix.models import SigningKey
key = SigningKey.objects.get(status="active")
print("E2E_JSON=" + json.dumps({"kid": key.fastpix_id, "pem": key.private_key_pem()}))
"""

PNG = [0x89, 0x50, 0x4E, 0x47]
JPEG = [0xFF, 0xD8, 0xFF]


@pytest.fixture
def fake() -> Iterator[FakeFastPix]:
    with fake_fastpix(processing_delay=0.3) as server:
        server.fail_inputs_matching("broken")
        yield server


@pytest.fixture
def site(fake: FakeFastPix, tmp_path: Path) -> Iterator[Site]:
    """The example site on a fresh SQLite database, wired to the fake, serving on a free port."""
    with run_site(fake, tmp_path) as running:
        yield running


def playback_id_of(fake: FakeFastPix, lesson_pk: int, policy: str) -> str:
    (media,) = fake.find_media_by_metadata("lesson", str(lesson_pk))
    ids = [p["id"] for p in media.get("playbackIds") or [] if p.get("accessPolicy") == policy]
    assert len(ids) == 1, f"lesson {lesson_pk}: expected one {policy} playback id in {media}"
    return str(ids[0])


def tamper(token: str) -> str:
    """Flip one character in the middle of the signature (the last one may only carry padding)."""
    head, _, signature = token.rpartition(".")
    i = len(signature) // 2
    flipped = "A" if signature[i] != "A" else "B"
    return f"{head}.{signature[:i]}{flipped}{signature[i + 1 :]}"


def test_a_visitor_plays_a_private_video_signed_end_to_end(
    driver: Any, fake: FakeFastPix, site: Site, artifacts: Path
) -> None:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.set_script_timeout(20)

    # Lessons saved by the site itself: each save makes a media in FastPix (the fake).
    lessons = [
        ("public", "Welcome (public)", "https://cdn.example.com/welcome.mp4", False),
        ("private", "Members only", "https://cdn.example.com/members.mp4", True),
        ("broken", "Broken upload", "https://cdn.example.com/broken.mp4", False),
    ]
    pks: dict[str, int] = site.shell_json(CREATE_LESSONS, E2E_LESSONS=json.dumps(lessons))
    assert len(fake.media()) == 3, fake.media()
    # From now on media stay where FastPix leaves them at creation: one lesson never finishes.
    fake.auto_advance = False
    pending = [("processing", "Still processing", "https://cdn.example.com/later.mp4", False)]
    pks.update(site.shell_json(CREATE_LESSONS, E2E_LESSONS=json.dumps(pending)))

    # The fake's signed webhooks move them along; the pages show where each one is.
    def page_has(key: str, marker: str) -> bool:
        status, html = site.get(f"/lessons/{pks[key]}/")
        return status == 200 and marker in html

    expected = {
        "public": "<fastpix-player",
        "private": "<fastpix-player",
        "broken": "fastpix-player--failed",
        "processing": "fastpix-player--processing",
    }
    for key, marker in expected.items():
        if not wait_for(partial(page_has, key, marker), timeout=25, interval=0.2):
            pytest.fail(
                f"The {key} lesson's page never showed {marker!r}.\n"
                f"fake media: {fake.media()}\nfake errors: {fake.errors}\n"
                f"webhook deliveries: {fake.webhook_deliveries}\n{site.server_tail()}",
                pytrace=False,
            )
    private_pid = playback_id_of(fake, pks["private"], "private")
    public_pid = playback_id_of(fake, pks["public"], "public")

    # --- The private lesson, in Chromium.
    driver.get(f"{site.url}/lessons/{pks['private']}/")
    players = driver.find_elements(By.CSS_SELECTOR, "fastpix-player")
    assert len(players) == 1, driver.page_source
    player = players[0]
    assert player.get_attribute("playback-id") == private_pid
    assert player.get_attribute("stream-type") == "on-demand"
    token = player.get_attribute("token")
    assert token, f"no token on the private player: {driver.page_source}"
    header = jwt.get_unverified_header(token)
    kid = header.get("kid")
    assert isinstance(kid, str), header
    assert header.get("alg") == "RS256", header
    public_pem = fake.signing_key_public_pem(kid)
    assert public_pem is not None, f"the token's kid {kid!r} is no signing key of the fake"
    unverified = jwt.decode(token, options={"verify_signature": False})
    assert unverified.get("aud") in (f"media:{private_pid}", [f"media:{private_pid}"]), unverified
    claims = jwt.decode(token, public_pem, algorithms=["RS256"], audience=f"media:{private_pid}")
    assert claims["exp"] > time.time(), claims
    poster = player.get_attribute("poster")
    assert poster and poster.startswith(fake.image_base_url + "/"), poster
    driver.save_screenshot(str(artifacts / "playback-private-lesson.png"))

    playlist = f"{fake.stream_base_url}/{private_pid}.m3u8"
    signed = fetch(driver, f"{playlist}?token={token}")
    assert signed["status"] == 200, signed
    assert signed["text"].startswith("#EXTM3U"), signed
    image = fetch(driver, poster)
    assert image["status"] == 200, image
    assert image["type"].startswith("image/"), image
    assert image["head"][:4] == PNG or image["head"][:3] == JPEG, image
    tampered = fetch(driver, f"{playlist}?token={tamper(token)}")
    assert tampered["status"] == 403, tampered
    unsigned = fetch(driver, playlist)
    assert unsigned["status"] == 401, unsigned

    # A token signed with the site's own key, but expired: refused.
    key = site.shell_json(SIGNING_KEY)
    assert key["kid"] == kid, (key["kid"], kid)
    now = int(time.time())
    expired_token = jwt.encode(
        {**claims, "iat": now - 600, "exp": now - 300},
        key["pem"],
        algorithm="RS256",
        headers={"kid": kid},
    )
    expired = fetch(driver, f"{playlist}?token={expired_token}")
    assert expired["status"] == 403, expired

    # The private key never reaches the page.
    pem_lines = [ln for ln in key["pem"].strip().splitlines() if ln and not ln.startswith("-----")]
    html = driver.page_source
    assert "".join(pem_lines) not in html
    for ln in pem_lines:
        assert ln not in html, "a line of the signing key's private PEM is in the page"
    assert "PRIVATE KEY" not in html

    # --- The public lesson: a player, and no token.
    driver.get(f"{site.url}/lessons/{pks['public']}/")
    (player,) = driver.find_elements(By.CSS_SELECTOR, "fastpix-player")
    assert player.get_attribute("playback-id") == public_pid
    assert player.get_attribute("stream-type") == "on-demand"
    assert player.get_attribute("token") is None, driver.page_source
    public_playlist = fetch(driver, f"{fake.stream_base_url}/{public_pid}.m3u8")
    assert public_playlist["status"] == 200, public_playlist

    # --- The failed lesson: the fallback, no player.
    driver.get(f"{site.url}/lessons/{pks['broken']}/")
    assert driver.find_elements(By.CSS_SELECTOR, ".fastpix-player--failed"), driver.page_source
    assert not driver.find_elements(By.CSS_SELECTOR, "fastpix-player")

    # --- The processing lesson: the processing placeholder, no player.
    driver.get(f"{site.url}/lessons/{pks['processing']}/")
    assert driver.find_elements(By.CSS_SELECTOR, ".fastpix-player--processing")
    assert not driver.find_elements(By.CSS_SELECTOR, "fastpix-player")

    # --- The list: real thumbnails load in the browser for ready lessons, placeholders else.
    driver.get(f"{site.url}/")
    link = "a[href='/lessons/{}/']"
    for key in ("public", "private"):
        selector = f"{link.format(pks[key])} img.fastpix-poster"
        assert driver.find_elements(By.CSS_SELECTOR, selector), (key, driver.page_source)
        loaded = (
            f"const img = document.querySelector({json.dumps(selector)});"
            "return img.complete && img.naturalWidth > 0;"
        )
        try:
            WebDriverWait(driver, 15).until(partial(run_script, script=loaded))
        except TimeoutException:
            pytest.fail(f"The {key} lesson's poster did not load in the browser", pytrace=False)
    for key, state in (("processing", "processing"), ("broken", "failed")):
        selector = f"{link.format(pks[key])} .fastpix-poster--{state}"
        assert driver.find_elements(By.CSS_SELECTOR, selector), (key, driver.page_source)
        assert not driver.find_elements(By.CSS_SELECTOR, f"{link.format(pks[key])} img")

    # --- The fake saw the browser's requests, and its log never kept a token.
    playlist_path = f"/stream/{private_pid}.m3u8"
    seen = [r for r in fake.requests if r.path == playlist_path]
    assert [r.status for r in seen] == [200, 403, 401, 403], [
        (r.status, r.query_string) for r in seen
    ]
    assert all(r.query.get("token") == "<redacted>" for i, r in enumerate(seen) if i != 2)
    origins = {value for r in seen for name, value in r.headers.items() if name.lower() == "origin"}
    assert origins == {site.url}, origins
    images = [r for r in fake.requests if r.path.startswith(f"/images/{private_pid}/")]
    assert any(r.status == 200 for r in images), [(r.path, r.status) for r in images]
    for record in fake.requests:
        recorded = f"{record.query_string} {record.query} {record.path}"
        for secret in (token, tamper(token), expired_token):
            assert secret not in recorded, f"a playback token was logged: {record.path}"
    assert not fake.errors, fake.errors
