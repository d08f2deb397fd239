"""An operator creates a private live stream in the admin; viewers see it go live, in a browser.

The example site runs as a `runserver` subprocess against a fake FastPix in this process
(tests/browser/site.py). A superuser creates the stream on the admin's add page (the one
response that shows its key), the public live page waits for the broadcast, the fake's
encoder simulation connects (its loopback HTTP control route) and its signed webhooks move
the stream to active: the page, polling the site's status endpoint, reloads into a signed
live player whose playlist the fake serves with the token only. Then the encoder drops and
the session ends. The stream key appears in no page the test saw but the create response.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from django_fastpix.testing import FakeFastPix
from tests.browser.site import (
    Site,
    click_and_wait,
    fake_fastpix,
    fetch,
    login,
    run_site,
    verified_claims,
)

pytestmark = pytest.mark.browser

STREAM_TITLE = "Launch keynote"

STREAM_ROW = """
import json, os
from django.db import connection
from django_fastpix.models import LiveStream
stream = LiveStream.objects.get(pk=os.environ["E2E_STREAM"])
with connection.cursor() as cursor:
    cursor.execute(
        f"SELECT stream_key FROM {LiveStream._meta.db_table} WHERE id = %s", [stream.pk]
    )
    raw = cursor.fetchone()[0]
print("E2E_JSON=" + json.dumps({
    "fastpix_id": stream.fastpix_id, "status": stream.status, "raw_key": raw,
    "hint": stream.stream_key_hint, "access_policy": stream.access_policy,
    "playback_ids": stream.playback_ids, "key": stream.stream_key_value(),
}))
"""


@pytest.fixture
def fake() -> Iterator[FakeFastPix]:
    with fake_fastpix(processing_delay=0.2) as server:
        yield server


@pytest.fixture
def site(fake: FakeFastPix, tmp_path: Path) -> Iterator[Site]:
    with run_site(fake, tmp_path) as running:
        running.create_users(("operator", True, []))
        yield running


def control(fake: FakeFastPix, stream_id: str, action: str) -> dict[str, Any]:
    """The fake's loopback control route, as a test rig or a curl would call it."""
    request = urllib.request.Request(
        f"{fake.control_base_url}/live/{stream_id}/{action}", data=b"{}", method="POST"
    )
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        answer: dict[str, Any] = json.loads(response.read())["data"]
        return answer


def test_a_private_live_stream_goes_live_for_viewers(
    driver: Any, fake: FakeFastPix, site: Site, artifacts: Path
) -> None:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    driver.set_script_timeout(20)
    pages: list[tuple[str, str]] = []  # (url, source) of every page the test saw

    def seen() -> str:
        source: str = driver.page_source
        pages.append((driver.current_url, source))
        return source

    # --- The operator creates a private stream in the admin: the key is shown once.
    login(driver, site, "operator", admin=True)
    driver.get(f"{site.url}/admin/django_fastpix/livestream/add/")
    seen()
    Select(driver.find_element(By.NAME, "workspace")).select_by_visible_text("Demo (development)")
    driver.find_element(By.NAME, "title").send_keys(STREAM_TITLE)
    Select(driver.find_element(By.NAME, "access_policy")).select_by_value("private")
    click_and_wait(driver, driver.find_element(By.NAME, "confirm"))
    create_response = driver.page_source
    key = driver.find_element(By.ID, "fastpix-stream-key").get_attribute("value")
    assert key and len(key) >= 16, create_response
    assert key in create_response
    driver.save_screenshot(str(artifacts / "live-created-key-once.png"))
    (remote,) = fake.live_streams()
    assert remote["streamKey"] == key
    stream_id = remote["streamId"]
    (playback,) = remote["playbackIds"]
    assert playback["accessPolicy"] == "private", remote
    playback_id = playback["id"]

    # Its change page (and the list) never show the key; the database holds it encrypted.
    click_and_wait(driver, driver.find_element(By.PARTIAL_LINK_TEXT, "go to the stream"))
    change_url = driver.current_url
    assert change_url.endswith("/change/"), change_url
    pk = change_url.rstrip("/").split("/")[-2]
    change_page = seen()
    assert stream_id in change_page and key not in change_page
    driver.get(f"{site.url}/admin/django_fastpix/livestream/")
    assert STREAM_TITLE in seen()
    row = site.shell_json(STREAM_ROW, E2E_STREAM=pk)
    assert row["fastpix_id"] == stream_id and row["access_policy"] == "private", row
    assert row["key"] == key and row["hint"] == key[-4:], "the stored key is not the shown one"
    assert key not in row["raw_key"] and row["raw_key"].startswith("gAAAA"), "not encrypted"
    assert row["playback_ids"] == [{"id": playback_id, "accessPolicy": "private"}], row

    # --- A viewer (signed out) finds the event and waits for it.
    driver.delete_all_cookies()
    driver.get(f"{site.url}/")
    driver.find_element(By.LINK_TEXT, STREAM_TITLE).click()
    assert driver.current_url == f"{site.url}/live/{pk}/", driver.current_url
    waiting = seen()
    assert driver.find_elements(By.CSS_SELECTOR, "[data-fastpix-live-status='idle']"), waiting
    assert not driver.find_elements(By.CSS_SELECTOR, "fastpix-player")
    status, body = site.get(f"/live/{pk}/status/")
    assert (status, json.loads(body)) == (200, {"status": "idle", "live": False}), body
    pages.append((f"{site.url}/live/{pk}/status/", body))

    # --- The encoder connects: webhooks make it active, the page reloads into the player.
    answer = control(fake, stream_id, "connect")
    assert answer["status"] == "active", {k: v for k, v in answer.items() if k != "streamKey"}
    try:
        WebDriverWait(driver, 20).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "fastpix-player[stream-type='live-stream']")
        )
    except TimeoutException:
        pytest.fail(
            f"The live page never showed the live player.\n{driver.page_source}\n"
            f"webhooks: {fake.webhook_deliveries}\n{site.server_tail()}",
            pytrace=False,
        )
    live_page = seen()
    driver.save_screenshot(str(artifacts / "live-on-air.png"))
    (player,) = driver.find_elements(By.CSS_SELECTOR, "fastpix-player")
    assert player.get_attribute("playback-id") == playback_id
    assert player.get_attribute("title") == STREAM_TITLE
    assert not driver.find_elements(By.CSS_SELECTOR, "[data-fastpix-live-status]"), live_page
    token = player.get_attribute("token")
    assert token, f"no token on the private live player: {live_page}"
    verified_claims(fake, token, playback_id)
    status, body = site.get(f"/live/{pk}/status/")
    assert json.loads(body) == {"status": "active", "live": True}, body
    pages.append((f"{site.url}/live/{pk}/status/", body))

    # The fake's stream host serves the live playlist to the page with the token only.
    playlist = f"{fake.stream_base_url}/{playback_id}.m3u8"
    signed = fetch(driver, f"{playlist}?token={token}")
    assert signed["status"] == 200, signed
    assert signed["text"].startswith("#EXTM3U"), signed
    unsigned = fetch(driver, playlist)
    assert unsigned["status"] == 401, unsigned

    # --- The encoder drops: the page shows the interruption instead of the player.
    fake.disconnect_encoder(stream_id)
    try:
        WebDriverWait(driver, 20).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "[data-fastpix-live-status='disconnected']")
        )
    except TimeoutException:
        pytest.fail(f"The page never showed the disconnection.\n{driver.page_source}")
    assert not driver.find_elements(By.CSS_SELECTOR, "fastpix-player"), seen()
    assert "interrupted" in seen()

    # --- The session ends: waiting again (until the next broadcast).
    fake.end_stream(stream_id)
    try:
        WebDriverWait(driver, 20).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "[data-fastpix-live-status='idle']")
        )
    except TimeoutException:
        pytest.fail(f"The page never went back to waiting.\n{driver.page_source}")
    assert "has not started yet" in seen()
    driver.get(f"{site.url}/live/")
    assert STREAM_TITLE in seen()

    # The key: in the create response, and in no other page, answer or log line.
    assert not [url for url, source in pages if key in source], "the stream key leaked"
    assert len(pages) >= 10, [url for url, _ in pages]
    assert key not in site.log.read_text(errors="replace")
    assert not fake.errors, fake.errors
