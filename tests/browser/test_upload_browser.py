"""An editor uploads a lesson's video from the lesson page, in a real browser, straight to FastPix.

The example site runs as a `runserver` subprocess against a fake FastPix in this process
(tests/browser/site.py). Headless Chromium loads the lesson page, the app's UploadWidget
(upload.js and the vendored @fastpix/resumable-uploads) asks the site for a signed upload URL
and sends a generated 12 MiB file to the fake's upload host in 5 MiB chunks
(FASTPIX_UPLOAD_CHUNK_SIZE_KB=5120); the fake's signed webhooks then make the media and the
app links it to the lesson. Also: cancelling mid-upload, and a chunk answered 503 once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from django_fastpix.testing import FakeFastPix
from tests.browser.site import Site, fake_fastpix, login, run_site
from tests.processes import wait_for

pytestmark = pytest.mark.browser

CHUNK_KB = 5120
CHUNK = CHUNK_KB * 1024
SIZE = 12 * 1024 * 1024  # three chunks: 5 MiB, 5 MiB, 2 MiB
CHUNK_ROUTE = "PUT /uploads/{uploadId}/session/{sessionToken}"
WIDGET = "[data-fastpix-upload]"

CREATE_LESSON = """
import json, os
from videos.models import Lesson
lesson = Lesson.objects.create(title=os.environ["E2E_TITLE"], video_url=os.environ["E2E_URL"])
print("E2E_JSON=" + json.dumps(lesson.pk))
"""

STATE = """
import json, os
from django_fastpix.models import Upload
from videos.models import Lesson
lesson = Lesson.objects.select_related("video").get(pk=os.environ["E2E_LESSON"])
uploads = [
    {
        "pk": u.pk, "fastpix_id": u.fastpix_id, "status": u.status, "media": u.media_id,
        "media_fastpix_id": u.media.fastpix_id if u.media else None,
        "object_id": u.object_id, "field_name": u.field_name, "size": u.size,
        "filename": u.filename, "created_by": u.created_by.username if u.created_by else None,
    }
    for u in Upload.objects.select_related("media", "created_by").order_by("pk")
]
video = lesson.video
print("E2E_JSON=" + json.dumps({
    "video": lesson.video_id,
    "video_status": video.status if video else None,
    "video_fastpix_id": video.fastpix_id if video else None,
    "uploads": uploads,
}))
"""

# Everything the widget tells the page, recorded from before the file is chosen.
RECORD = """
const root = document.querySelector(arguments[0]);
const log = (window.__upload = {states: [], progress: [], attrs: [], linked: null});
document.addEventListener("fastpix:upload-state", (e) => log.states.push(e.detail.state));
document.addEventListener("fastpix:upload-progress", (e) => log.progress.push(e.detail.progress));
document.addEventListener("fastpix:upload-linked", (e) => { log.linked = e.detail; });
new MutationObserver(() => log.attrs.push(Number(root.getAttribute("data-progress"))))
  .observe(root, {attributes: true, attributeFilter: ["data-progress"]});
"""


@pytest.fixture
def fake() -> Iterator[FakeFastPix]:
    with fake_fastpix(processing_delay=0.3) as server:
        yield server


@pytest.fixture
def site(fake: FakeFastPix, tmp_path: Path) -> Iterator[Site]:
    with run_site(fake, tmp_path, FASTPIX_UPLOAD_CHUNK_SIZE_KB=str(CHUNK_KB)) as running:
        running.create_users(("editor", False, ["videos.change_lesson"]), ("reader", False, []))
        yield running


@pytest.fixture
def video_file(tmp_path: Path) -> Path:
    """12 MiB of bytes with an .mp4 name (the fake keeps only byte counts)."""
    path = tmp_path / "lesson-intro.mp4"
    with path.open("wb") as out:
        out.write(b"\x00\x00\x00\x18ftypmp42")
        out.write(os.urandom(SIZE - 12))
    assert path.stat().st_size == SIZE
    return path


def create_lesson(site: Site, title: str, url: str = "") -> int:
    pk: int = site.shell_json(CREATE_LESSON, E2E_TITLE=title, E2E_URL=url)
    return pk


def state(site: Site, lesson: int) -> dict[str, Any]:
    result: dict[str, Any] = site.shell_json(STATE, E2E_LESSON=str(lesson))
    return result


def widget_attr(driver: Any, name: str) -> str | None:
    from selenium.webdriver.common.by import By

    value: str | None = driver.find_element(By.CSS_SELECTOR, WIDGET).get_attribute(name)
    return value


def wait_widget(driver: Any, wanted: str, site: Site, fake: FakeFastPix, timeout: float) -> None:
    """Wait for the widget's data-state; fail with what the page, fake and site show."""
    if not wait_for(lambda: widget_attr(driver, "data-state") == wanted, timeout, 0.1):
        status = driver.execute_script(
            "return document.querySelector('[data-fastpix-upload-status]').textContent"
        )
        pytest.fail(
            f"The widget never reached {wanted!r}: state {widget_attr(driver, 'data-state')!r}, "
            f"status {status!r}, events {recorded(driver)}\nfake uploads: {uploads_of(fake)}\n"
            f"fake errors: {fake.errors}\n{site.server_tail()}",
            pytrace=False,
        )


def recorded(driver: Any) -> dict[str, Any]:
    log: dict[str, Any] = driver.execute_script("return window.__upload")
    return log


def uploads_of(fake: FakeFastPix) -> list[dict[str, Any]]:
    """The fake's uploads, without their signed URLs (kept out of failure messages)."""
    return [{k: v for k, v in u.items() if k != "url"} for u in fake.uploads()]


def open_lesson_and_choose(driver: Any, site: Site, lesson: int, video_file: Path) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{site.url}/lessons/{lesson}/")
    widget = driver.find_element(By.CSS_SELECTOR, WIDGET)
    assert widget.get_attribute("data-state") == "idle"
    assert widget.get_attribute("data-context"), "the editor's widget has no signed context"
    file_input = widget.find_element(By.CSS_SELECTOR, "input[type=file]")
    assert file_input.is_enabled()
    # The two scripts (uploader and upload.js) have run: the resumable path is the one tested.
    assert driver.execute_script("return Boolean(window.Uploader && window.FastPixUpload)")
    driver.execute_script(RECORD, WIDGET)
    file_input.send_keys(str(video_file))


def test_an_editor_uploads_a_lesson_video_in_chunks(
    driver: Any, fake: FakeFastPix, site: Site, video_file: Path, artifacts: Path
) -> None:
    from selenium.webdriver.common.by import By

    driver.set_script_timeout(20)
    lesson = create_lesson(site, "Upload target")

    # Anonymous visitors and signed-in readers get no upload form (and no signed context).
    status, html = site.get(f"/lessons/{lesson}/")
    assert status == 200
    assert "data-fastpix-upload" not in html and "data-context" not in html
    login(driver, site, "reader")
    driver.get(f"{site.url}/lessons/{lesson}/")
    assert not driver.find_elements(By.CSS_SELECTOR, WIDGET), driver.page_source
    assert "data-context" not in driver.page_source

    # The editor chooses a 12 MiB file: three chunks to the fake's upload host.
    login(driver, site, "editor")
    open_lesson_and_choose(driver, site, lesson, video_file)
    wait_widget(driver, "linked", site, fake, timeout=60)
    log = recorded(driver)
    driver.save_screenshot(str(artifacts / "upload-linked.png"))

    # The page saw the upload go through its states and its progress rise in steps.
    states = log["states"]
    assert states[0] == "uploading" and states[-1] == "linked", states
    assert "processing" in states and "error" not in states, states
    progress = log["progress"]
    assert progress == sorted(progress), progress
    assert len({round(p) for p in progress if 0 < p < 100}) >= 2, progress
    attrs = log["attrs"]
    assert attrs == sorted(attrs) and attrs[-1] == 100, attrs
    assert len({a for a in attrs if 0 < a < 100}) >= 2, attrs
    assert log["linked"] and log["linked"]["media"], log
    assert widget_attr(driver, "data-progress") == "100"
    hidden = driver.find_element(By.CSS_SELECTOR, "[data-fastpix-upload-value]")
    assert hidden.get_attribute("value") == str(log["linked"]["media"])
    assert driver.find_element(By.CSS_SELECTOR, "[data-lesson-reload]").is_displayed()

    # The fake received the file in several chunks over one resumable session.
    (remote,) = fake.uploads()
    assert remote["resumable"] and remote["browser"], uploads_of(fake)
    assert remote["receivedBytes"] == SIZE == remote["totalBytes"], uploads_of(fake)
    assert remote["chunks"] == 3, uploads_of(fake)
    chunks = fake.requests_for(CHUNK_ROUTE)
    assert [r.status for r in chunks] == [308, 308, 200], [(r.status, r.fault) for r in chunks]
    assert [r.headers.get("Content-Range") or r.headers.get("content-range") for r in chunks] == [
        f"bytes 0-{CHUNK - 1}/{SIZE}",
        f"bytes {CHUNK}-{2 * CHUNK - 1}/{SIZE}",
        f"bytes {2 * CHUNK}-{SIZE - 1}/{SIZE}",
    ]
    origins = {r.headers.get("Origin") or r.headers.get("origin") for r in chunks}
    assert origins == {site.url}, origins

    # The site: the Upload is asset_created, linked to its media, which is the lesson's video.
    now = state(site, lesson)
    (upload,) = now["uploads"]
    assert upload["status"] == "asset_created", now
    assert upload["fastpix_id"] == remote["uploadId"], now
    assert upload["media"] == log["linked"]["media"], now
    assert upload["media_fastpix_id"] == remote["mediaId"], (now, uploads_of(fake))
    assert (upload["object_id"], upload["field_name"]) == (str(lesson), "video"), now
    assert (upload["created_by"], upload["size"]) == ("editor", SIZE), now
    assert upload["filename"] == "lesson-intro.mp4", now
    assert now["video"] == upload["media"], now

    # Once FastPix (the fake) has processed it, the lesson page plays it.
    def plays() -> bool:
        status, html = site.get(f"/lessons/{lesson}/")
        return status == 200 and "<fastpix-player" in html

    if not wait_for(plays, timeout=30, interval=0.2):
        pytest.fail(
            f"The lesson page never showed the player: {state(site, lesson)}\n"
            f"fake media: {fake.media()}\n{site.server_tail()}",
            pytrace=False,
        )
    driver.get(f"{site.url}/lessons/{lesson}/")
    (player,) = driver.find_elements(By.CSS_SELECTOR, "#lesson-video fastpix-player")
    media = fake.get_media(remote["mediaId"])
    assert media is not None
    assert player.get_attribute("playback-id") == media["playbackIds"][0]["id"]
    assert player.get_attribute("stream-type") == "on-demand"
    assert state(site, lesson)["video_status"] == "ready"
    driver.save_screenshot(str(artifacts / "upload-lesson-plays.png"))

    # The signed upload URL is a capability: in no page, and not in the site's log.
    assert remote["url"] not in driver.page_source
    assert remote["url"].split("?", 1)[1] not in site.log.read_text(errors="replace")
    assert not fake.errors, fake.errors


def test_cancelling_mid_upload_leaves_the_lesson_video_alone(
    driver: Any, fake: FakeFastPix, site: Site, video_file: Path
) -> None:
    from selenium.webdriver.common.by import By

    driver.set_script_timeout(20)
    lesson = create_lesson(site, "Has a video", "https://cdn.example.com/has-video.mp4")
    before = state(site, lesson)
    assert before["video"] is not None, before

    # The second chunk never gets an answer: the upload is stuck after 5 MiB, as on a slow line.
    fault = fake.inject(CHUNK_ROUTE, hang=True, nth=2)
    try:
        login(driver, site, "editor")
        open_lesson_and_choose(driver, site, lesson, video_file)
        received = wait_for(
            lambda: [u["receivedBytes"] for u in fake.uploads()] == [CHUNK], timeout=30
        )
        assert received, uploads_of(fake)
        assert widget_attr(driver, "data-state") == "uploading"
        cancel = driver.find_element(By.CSS_SELECTOR, "[data-fastpix-upload-cancel]")
        assert cancel.is_displayed()
        cancel.click()
        wait_widget(driver, "cancelled", site, fake, timeout=15)
        # "Cancelling…" until the site answered the cancel request; then it stays cancelled.
        status_line = driver.find_element(By.CSS_SELECTOR, "[data-fastpix-upload-status]")
        assert wait_for(lambda: status_line.text == "Upload cancelled.", timeout=15), (
            status_line.text
        )
        assert widget_attr(driver, "data-state") == "cancelled"
    finally:
        fake.clear_faults(fault)

    (remote,) = fake.uploads()
    assert remote["status"] == "cancelled", uploads_of(fake)
    assert remote["receivedBytes"] == CHUNK and remote["mediaId"] is None, uploads_of(fake)
    after = state(site, lesson)
    (upload,) = after["uploads"]
    assert upload["status"] == "cancelled" and upload["media"] is None, after
    assert upload["fastpix_id"] == remote["uploadId"], after
    assert after["video"] == before["video"], (before, after)
    log = recorded(driver)
    assert log["states"] == ["uploading", "cancelled"], log
    assert log["linked"] is None, log
    assert not fake.errors, fake.errors


def test_a_chunk_refused_once_is_sent_again_and_the_upload_completes(
    driver: Any, fake: FakeFastPix, site: Site, video_file: Path
) -> None:
    driver.set_script_timeout(20)
    lesson = create_lesson(site, "Resumed upload")
    # The connection drops on the second chunk once (FastPix's storage answers 503).
    fake.inject(CHUNK_ROUTE, status=503, nth=2)

    login(driver, site, "editor")
    open_lesson_and_choose(driver, site, lesson, video_file)
    wait_widget(driver, "linked", site, fake, timeout=60)

    chunks = fake.requests_for(CHUNK_ROUTE)
    assert [r.status for r in chunks] == [308, 503, 308, 200], [(r.status, r.fault) for r in chunks]
    ranges = [r.headers.get("Content-Range") or r.headers.get("content-range") for r in chunks]
    assert ranges[1] == ranges[2] == f"bytes {CHUNK}-{2 * CHUNK - 1}/{SIZE}", ranges
    (remote,) = fake.uploads()
    assert remote["receivedBytes"] == SIZE and remote["chunks"] == 3, uploads_of(fake)
    log = recorded(driver)
    assert "error" not in log["states"], log
    now = state(site, lesson)
    (upload,) = now["uploads"]
    assert upload["status"] == "asset_created" and now["video"] == upload["media"], now
    assert now["video_fastpix_id"] == remote["mediaId"], (now, uploads_of(fake))
    assert not fake.errors, fake.errors
