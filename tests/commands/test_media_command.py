"""fastpix_media against the fake FastPix: create, wait, status, refresh, retry, delete, list."""

from __future__ import annotations

import io
import json
import sys

import pytest
from django.core.management.base import CommandError

from django_fastpix.models import Media, MediaStatus
from django_fastpix.scopes import Scope
from tests.commands.conftest import assert_no_secret, run, run_capturing

pytestmark = pytest.mark.django_db

VIDEO = "https://cdn.example.com/intro.mp4"


def create(*extra: str) -> str:
    return run("fastpix_media", "create", "--workspace", "prod", "--url", VIDEO, *extra)


def test_create_prints_pk_fastpix_id_and_status(fake_token, fake_api, all_logs):
    fake_token()
    out = create("--title", "Intro")
    media = Media.objects.get()
    assert media.fastpix_id and media.title == "Intro"
    assert f"Media #{media.pk}" in out and media.fastpix_id in out and media.status in out
    (post,) = fake_api.requests_for("POST /on-demand")
    assert post.header("Idempotency-Key") == str(media.reference)
    assert_no_secret(out, all_logs.text)


def test_create_wait_json_until_ready(fake_token, fake_api):
    fake_token()
    data = json.loads(
        create("--access-policy", "private", "--wait", "--interval", "0.05", "--json")
    )
    assert data["status"] == "ready" and data["fastpix_id"]
    assert data["access_policy"] == "private" and data["playback_ids"]
    assert Media.objects.get().status == MediaStatus.READY


def test_wait_gives_up_at_the_timeout(fake_token, fake_api):
    fake_token()
    fake_api.auto_advance = False
    with pytest.raises(CommandError, match=r"still created after 0.2 s.*refresh"):
        create("--wait", "--timeout", "0.2", "--interval", "0.05")
    assert Media.objects.get().fastpix_id  # created all the same; only the wait ended


def test_wait_reports_a_failed_media(fake_token, fake_api):
    fake_token()
    with pytest.raises(CommandError, match="failed"):
        run(
            "fastpix_media", "create", "--workspace", "prod", "--wait", "--interval", "0.05",
            "--url", "https://cdn.example.com/will-fail.mp4",
        )  # fmt: skip
    assert Media.objects.get().status == MediaStatus.FAILED


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/a.mp4", "only http"),
        ("not a url", "whitespace"),
        ("http://", "no host"),
        ("", "No video URL"),
    ],
)
def test_invalid_url_is_refused_before_any_call(fake_token, fake_api, url, reason):
    fake_token()
    with pytest.raises(CommandError, match=reason):
        run("fastpix_media", "create", "--workspace", "prod", "--url", url)
    assert not Media.objects.exists() and fake_api.requests == []


def test_create_without_write_token_names_the_row_to_retry(
    fake_token, fake_api, django_capture_on_commit_callbacks
):
    fake_token(scope=Scope.READ, fake_scope="read")
    out, error = run_capturing("fastpix_media", "create", "--workspace", "prod", "--url", VIDEO)
    media = Media.objects.get()
    assert isinstance(error, CommandError)
    assert f"retry {media.pk}" in str(error) and "read_write" in str(error)
    assert f"Media #{media.pk} pending" in out
    assert media.status == MediaStatus.PENDING and fake_api.requests == []
    fake_token()  # a write token arrives
    with django_capture_on_commit_callbacks(execute=True):
        data = json.loads(run("fastpix_media", "retry", str(media.pk), "--json"))
    assert data["id"] == media.pk and data["status"] == "pending"
    media.refresh_from_db()  # the creation task ran on commit (immediate backend)
    assert media.fastpix_id and media.status == MediaStatus.CREATED
    with pytest.raises(CommandError, match="already exists"):
        run("fastpix_media", "retry", str(media.pk))


def test_unknown_workspace(fake_api, workspace):
    with pytest.raises(CommandError, match=r"No workspace 'nope'.*prod"):
        run("fastpix_media", "create", "--workspace", "nope", "--url", VIDEO)


def test_status_and_refresh_by_local_or_fastpix_id(fake_token, fake_api, all_logs):
    fake_token()
    fake_api.auto_advance = False
    create()
    media = Media.objects.get()
    status = run("fastpix_media", "status", media.fastpix_id)
    assert "created" in status and "created_at" in status
    fake_api.finish_processing(media.fastpix_id)
    assert json.loads(run("fastpix_media", "status", str(media.pk), "--json"))["status"] == (
        "created"  # status reads the local row only
    )
    refreshed = json.loads(run("fastpix_media", "refresh", str(media.pk), "--json"))
    assert refreshed["status"] == "ready" and refreshed["playback_ids"]
    assert refreshed["last_synced_at"]
    text = run("fastpix_media", "status", str(media.pk))
    assert refreshed["playback_ids"][0]["id"] in text
    with pytest.raises(CommandError, match="No media 'nope'"):
        run("fastpix_media", "status", "nope")
    with pytest.raises(CommandError, match="No media '999'"):
        run("fastpix_media", "refresh", "999")
    assert_no_secret(status, text, all_logs.text)


def test_refresh_of_a_media_without_fastpix_id_fails(workspace, fake_api):
    media = Media.objects.create(workspace=workspace, source_url=VIDEO)
    with pytest.raises(CommandError, match="no FastPix id"):
        run("fastpix_media", "refresh", str(media.pk))


def test_delete_needs_yes_or_a_terminal(fake_token, fake_api, monkeypatch):
    fake_token()
    create()
    media = Media.objects.get()
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="--yes"):
        run("fastpix_media", "delete", str(media.pk))

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    with pytest.raises(CommandError, match="Not deleted"):
        run("fastpix_media", "delete", str(media.pk))
    assert fake_api.requests_for("DELETE /on-demand/{mediaId}") == []
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    assert "deleted" in run("fastpix_media", "delete", str(media.pk))
    assert fake_api.get_media(media.fastpix_id) is None
    media.refresh_from_db()
    assert media.status == MediaStatus.DELETED


def test_delete_yes_json(fake_token, fake_api):
    fake_token()
    create()
    fastpix_id = Media.objects.get().fastpix_id
    data = json.loads(run("fastpix_media", "delete", fastpix_id, "--yes", "--json"))
    assert data["status"] == "deleted" and fake_api.media() == []


def test_list_filters_and_json(fake_token, fake_api, other_workspace):
    fake_token()
    create("--title", "one")
    create("--title", "two")
    Media.objects.create(workspace=other_workspace, source_url=VIDEO, title="dev one")
    listing = run("fastpix_media", "list")
    assert "one" in listing and "two" in listing and "dev one" in listing
    rows = json.loads(run("fastpix_media", "list", "--workspace", "dev", "--json"))
    assert [r["title"] for r in rows] == ["dev one"]
    rows = json.loads(run("fastpix_media", "list", "--status", "pending", "--json"))
    assert [r["workspace"] for r in rows] == ["dev"]
    rows = json.loads(run("fastpix_media", "list", "--limit", "1", "--json"))
    assert len(rows) == 1 and rows[0]["title"] == "dev one"  # newest first
    assert run("fastpix_media", "list", "--status", "ready") == "No media.\n"
    with pytest.raises(CommandError):
        run("fastpix_media", "list", "--status", "bogus")
    with pytest.raises(CommandError, match="--limit"):
        run("fastpix_media", "list", "--limit", "0")


@pytest.mark.django_db(transaction=True)
def test_exit_status_is_non_zero_on_failure(manage, workspace):
    result = manage("fastpix_media", "create", "--workspace", "prod", "--url", "ftp://x/a.mp4")
    assert result.returncode != 0
    assert "only http(s)" in result.stderr and "Traceback" not in result.stderr
    assert not Media.objects.exists()
