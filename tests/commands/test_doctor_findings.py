"""fastpix_doctor on the failures the host site cannot see: a source's missing workspace,
stored token ids that break the token-id rule, objects saved without a media, and pending
media carrying an error. Each finding names the remedy, and --json carries it too."""

from __future__ import annotations

import base64
import json

import pytest
from django.core.management.base import CommandError

from django_fastpix.client.credentials import token_id_problem
from django_fastpix.models import AccessToken, Media, MediaStatus, TokenStatus, Workspace
from django_fastpix.scopes import Scope
from django_fastpix.services.doctor import PENDING_ERRORS_LISTED
from tests.commands.conftest import assert_no_secret, run_capturing
from tests.conftest import SECRET
from tests.testapp.models import Lesson

pytestmark = pytest.mark.django_db

COLON_ID = "legacy:id_0000_b0b5"
VIDEO = "https://cdn.example.com/lesson.mp4"


@pytest.fixture
def healthy(workspace, fake_token, settings):
    settings.DEBUG = True  # the fake is plain http: no fastpix.W001 in these reports
    workspace.webhook_secret = base64.b64encode(b"webhook-signing-secret-of-32-bytes!").decode()
    workspace.save()
    return [fake_token(), fake_token(scope=Scope.READ, fake_scope="read")]


def doctor_json(*args: str) -> tuple[dict, Exception | None]:
    out, error = run_capturing("fastpix_doctor", "--json", *args)
    return json.loads(out), error


def problems(report: dict) -> list[dict]:
    return [f for f in report["findings"] if f["level"] != "OK"]


def stored_before_the_rule(workspace: Workspace, token_id: str, name: str) -> AccessToken:
    """A row as an older release stored it: the model's save applies no input rule."""
    token = AccessToken(workspace=workspace, name=name, token_id=token_id, secret_key=SECRET)
    token.save()
    return token


def test_a_source_workspace_that_does_not_exist_fails_with_the_remedy(healthy, settings):
    assert problems(doctor_json("--no-verify")[0]) == []
    settings.FASTPIX = {
        **settings.FASTPIX,
        "MEDIA_SOURCES": {"testapp.Lesson": {"url_field": "video_url", "workspace": "ghost"}},
    }
    report, error = doctor_json("--no-verify")
    assert isinstance(error, CommandError)
    (finding,) = problems(report)
    assert finding["level"] == "FAIL" and finding["area"] == "sources"
    assert finding["check_id"] == "fastpix.W003" and "'ghost'" in finding["message"]
    assert "admin" in finding["remedy"] and "fastpix_media recover" in finding["remedy"]

    # Text output: the same line, with its fix.
    out, _ = run_capturing("fastpix_doctor", "--no-verify")
    assert "FAIL sources: [fastpix.W003]" in out and "fix: Create the workspace 'ghost'" in out

    Workspace.objects.create(name="Ghost", slug="ghost")
    assert [f for f in problems(doctor_json("--no-verify")[0]) if f["area"] == "sources"] == []


@pytest.mark.parametrize("verify", [True, False], ids=["verify", "no-verify"])
def test_a_stored_token_id_that_breaks_the_rule_is_named_never_shown(healthy, fake_api, verify):
    bad = stored_before_the_rule(healthy[0].workspace, COLON_ID, "legacy")
    invalid = stored_before_the_rule(healthy[0].workspace, "tok with space_9999", "pasted")
    AccessToken.objects.filter(pk=invalid.pk).update(status=TokenStatus.INVALID)
    revoked = stored_before_the_rule(healthy[0].workspace, "gone:0000_dead", "gone")
    AccessToken.objects.filter(pk=revoked.pk).update(status=TokenStatus.REVOKED)

    out, error = run_capturing("fastpix_doctor", "--json", *([] if verify else ["--no-verify"]))
    assert isinstance(error, CommandError)
    tokens = [f for f in problems(json.loads(out)) if f["message"].startswith("Token #")]
    found = {f["message"].split(":", 1)[0]: f for f in tokens}
    assert set(found) == {f"Token #{bad.pk} legacy (…b0b5)", f"Token #{invalid.pk} pasted (…9999)"}
    active = found[f"Token #{bad.pk} legacy (…b0b5)"]
    assert active["level"] == "FAIL" and active["area"] == "workspace prod"
    assert token_id_problem(COLON_ID) in active["message"]
    assert f"fastpix_token revoke {bad.pk}" in active["remedy"]
    assert "fastpix_token add --workspace prod" in active["remedy"]
    assert found[f"Token #{invalid.pk} pasted (…9999)"]["level"] == "WARN"  # not in use
    # Nothing was sent with the broken pair: only the two good tokens were verified.
    assert len(fake_api.requests_for("GET /on-demand")) == (2 if verify else 0)
    assert COLON_ID not in out and "legacy:" not in out and "tok with space" not in out
    assert_no_secret(out, str(error))


def test_objects_saved_without_a_media_are_counted_with_the_remedy(healthy, workspace):
    # Saved while their workspace did not exist: the site's saves succeeded, no media.
    for n in range(3):
        Lesson.objects.create(title=f"orphan {n}", video_url=VIDEO, workspace_slug="ghost")
    Lesson.objects.create(title="fine", video_url=VIDEO, workspace_slug=workspace.slug)
    Lesson.objects.create(title="no video", video_url="", workspace_slug="ghost")
    assert Media.objects.count() == 1

    report, error = doctor_json("--no-verify")
    assert error is None  # a warning: the objects are safe, their media only late
    (finding,) = problems(report)
    assert finding["level"] == "WARN" and finding["area"] == "sources"
    assert finding["message"].startswith("3 testapp.Lesson object(s) hold a video URL")
    assert "fastpix_media recover" in finding["remedy"]


def test_pending_media_with_an_error_are_listed_with_the_reason(healthy, workspace):
    reason = "FastPix answered 503 (service unavailable); next attempt scheduled."
    erring = Media.objects.create(
        workspace=workspace, title="Intro", error=reason, creation_attempts=2
    )
    Media.objects.create(workspace=workspace, title="Waiting")  # pending, no error: fine
    Media.objects.create(workspace=workspace, status=MediaStatus.READY, error="old, fixed")

    report, error = doctor_json("--no-verify")
    assert error is None
    (finding,) = problems(report)
    assert finding["level"] == "WARN" and finding["area"] == "workspace prod"
    assert (
        finding["message"] == f"Media #{erring.pk} 'Intro' is pending after 2 attempt(s): {reason}"
    )
    assert f"fastpix_media retry {erring.pk}" in finding["remedy"]


def test_many_pending_errors_are_listed_up_to_a_bound(healthy, workspace):
    extra = 3
    for n in range(PENDING_ERRORS_LISTED + extra):
        Media.objects.create(workspace=workspace, title=f"m{n}", error=f"reason {n}\nmore detail")
    report, _ = doctor_json("--no-verify")
    found = problems(report)
    assert len(found) == PENDING_ERRORS_LISTED + 1
    assert found[0]["message"].endswith(": reason 0")  # the first line of each reason
    assert found[-1]["message"] == f"{extra} more pending media with an error."
    assert "fastpix_media list --workspace prod --status pending" in found[-1]["remedy"]
