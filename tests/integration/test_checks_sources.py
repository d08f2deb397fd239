"""System checks over FASTPIX["MEDIA_SOURCES"]: every problem an Error naming the source and
the option (fastpix.E005-E008), and a workspace slug no workspace has a Warning (fastpix.W003),
which never crashes `check` before migrate or without a database."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks

from django_fastpix.models import Workspace
from tests.integration.test_checks_sqlite import run_check

SOURCE_IDS = {"fastpix.E005", "fastpix.E006", "fastpix.E007", "fastpix.E008", "fastpix.W003"}

pytestmark = pytest.mark.django_db


def source_messages() -> list[tuple[str, str]]:
    return sorted((str(m.id), str(m.msg)) for m in run_checks() if m.id in SOURCE_IDS)


def with_sources(settings, sources: object) -> None:
    settings.FASTPIX = {**settings.FASTPIX, "MEDIA_SOURCES": sources}


def has(messages: list[tuple[str, str]], check_id: str, *parts: str) -> bool:
    return any(i == check_id and all(p in msg for p in parts) for i, msg in messages)


def test_each_broken_option_is_an_error_naming_source_and_key(settings, workspace):
    assert source_messages() == []  # the suite's own sources are sound
    with_sources(
        settings,
        {
            "testapp.Lesson": {
                "url_field": "video_link",
                "workspace": "tests.testapp.models.no_such_function",
                "title": "tests.settings.SECRET_KEY",
                "metadata": "lesson_metadata",
                "access_policy": "drm",
                "on_url_change": "archive",
                "colour": "red",
            },
            "testapp.Chapter": {"url_field": "video_url", "workspace": "prod"},
            "lesson": {"workspace": "prod"},
        },
    )
    messages = source_messages()
    lesson = "FASTPIX['MEDIA_SOURCES']['testapp.Lesson']"
    assert has(messages, "fastpix.E006", lesson, "'url_field'", "no field 'video_link'")
    assert has(messages, "fastpix.E007", lesson, "'workspace'", "cannot be imported")
    assert has(messages, "fastpix.E007", lesson, "'title'", "is not callable")
    assert has(messages, "fastpix.E008", lesson, "'metadata'", "callable")
    assert has(messages, "fastpix.E008", lesson, "'access_policy'", "'drm'")
    assert has(messages, "fastpix.E008", lesson, "'on_url_change'")
    assert has(messages, "fastpix.E008", lesson, "unknown option 'colour'")
    chapter = "FASTPIX['MEDIA_SOURCES']['testapp.Chapter']"
    assert has(messages, "fastpix.E005", chapter, "not an installed model")
    assert has(messages, "fastpix.E005", "['lesson']", "not an installed model")
    assert has(messages, "fastpix.E006", "['lesson']", "needs 'url_field'")
    assert len(messages) == 10, messages
    # A check reports; it never shows the value a dotted path led to (SECRET_KEY here).
    assert all(settings.SECRET_KEY not in msg for _, msg in messages)


def test_a_module_failing_at_import_is_an_error_not_a_crash(settings, tmp_path, monkeypatch):
    (tmp_path / "broken_source_options.py").write_text("raise RuntimeError('half deployed')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with_sources(
        settings,
        {
            "testapp.Lesson": {
                "url_field": "video_url",
                "workspace": "broken_source_options.workspace",
                "title": "headline",
            }
        },
    )
    messages = source_messages()
    assert has(
        messages,
        "fastpix.E007",
        "['testapp.Lesson']['workspace']",
        "RuntimeError: half deployed",
    )
    assert has(messages, "fastpix.E006", "['title']", "no field or attribute 'headline'")


def test_callables_given_directly_and_by_path_pass(settings):
    from tests.testapp.models import lesson_metadata

    with_sources(
        settings,
        {
            "testapp.Lesson": {
                "url_field": "video_url",
                "workspace": "tests.testapp.models.lesson_workspace",
                "metadata": lesson_metadata,
                "access_policy": lambda lesson: "private",
                "title": "workspace_slug",
            }
        },
    )
    assert source_messages() == []
    with_sources(settings, {"testapp.Lesson": {"url_field": "video_url", "metadata": 3}})
    messages = source_messages()
    assert has(messages, "fastpix.E008", "needs 'workspace'")
    assert has(messages, "fastpix.E008", "['metadata']", "not int")


def test_sources_that_are_not_dicts(settings):
    with_sources(settings, ["testapp.Lesson"])
    assert has(source_messages(), "fastpix.E008", "MEDIA_SOURCES'] must be a dict")
    with_sources(settings, {"testapp.Lesson": "video_url"})
    assert has(source_messages(), "fastpix.E008", "['testapp.Lesson'] must be a dict")


def test_a_workspace_slug_with_no_workspace_warns_until_it_exists(settings):
    with_sources(
        settings,
        {
            "testapp.Lesson": {"url_field": "video_url", "workspace": "ghost"},
        },
    )
    (warning,) = [m for m in run_checks() if m.id == "fastpix.W003"]
    assert "'ghost'" in warning.msg and "testapp.Lesson" in warning.msg
    assert "admin" in warning.hint and "fastpix_media recover" in warning.hint
    Workspace.objects.create(name="Ghost", slug="ghost")
    assert [m for m in run_checks() if m.id == "fastpix.W003"] == []


SLUG_SOURCE = (
    "FASTPIX = {**FASTPIX, 'MEDIA_SOURCES': "
    "{'testapp.Lesson': {'url_field': 'video_url', 'workspace': 'ghost'}}}\n"
)


def test_before_migrate_the_workspace_check_stays_quiet_then_warns(tmp_path):
    result = run_check(tmp_path, SLUG_SOURCE)  # a fresh SQLite file: no table yet
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output and "fastpix.W003" not in output

    run_check(tmp_path, SLUG_SOURCE, "--skip-checks", command="migrate")
    result = run_check(tmp_path, SLUG_SOURCE)
    assert "fastpix.W003" in result.stdout + result.stderr


def test_without_a_database_the_workspace_check_does_not_crash(tmp_path):
    unreachable = (
        "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', "
        "'NAME': '/nonexistent-dir/fastpix/db.sqlite3'}}\n"
    )
    # Our check alone: Django 6's own model checks open the database during `check` and
    # fail there first, which is not what this test is about.
    probe = (
        "from django_fastpix.checks import check_source_workspaces as check; "
        "print('ids:', [m.id for m in check()])"
    )
    result = run_check(tmp_path, SLUG_SOURCE + unreachable, "-c", probe, command="shell")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "ids: []" in output and "Traceback" not in output
