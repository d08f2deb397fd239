"""The checks and doctor findings for a newcomer's mistakes: task backend, webhook route.

fastpix.E009 (TASK_BACKEND names no TASKS alias), fastpix.E010 (django-tasks-db configured but
not installed; also run in a real site by tests/commands/test_readme_install.py), fastpix.W004
(the URLconf lacks the webhook route, or an earlier pattern shadows it), and the doctor's lines:
W004 as a FAIL, a workspace whose webhook URL is shadowed, a workspace without a webhook secret.
"""

from __future__ import annotations

import pytest
from django.urls import clear_script_prefix, set_script_prefix

from django_fastpix import checks as fastpix_checks
from django_fastpix.checks import (
    check_task_backend,
    check_webhook_route,
    webhook_path,
    webhook_route_problem,
)
from django_fastpix.services.doctor import FAIL, OK, WARN, diagnose

DB_BACKEND = "django_tasks_db.DatabaseBackend"
IMMEDIATE = "django.tasks.backends.immediate.ImmediateBackend"


def ids(messages: list) -> list[str]:
    return [m.id for m in messages]


# --- the task backend ---


def test_the_default_alias_needs_no_tasks_setting(settings):
    del settings.TASKS
    assert check_task_backend() == []


def test_an_alias_missing_from_tasks_is_e009(settings):
    settings.FASTPIX = {**settings.FASTPIX, "TASK_BACKEND": "queue-typo"}
    (error,) = check_task_backend()
    assert error.id == "fastpix.E009" and "'queue-typo'" in error.msg
    assert "default, queue" in error.msg and "TASKS" in error.hint
    settings.TASKS = {"other": {"BACKEND": IMMEDIATE}}
    settings.FASTPIX = {**settings.FASTPIX, "TASK_BACKEND": "default"}
    assert ids(check_task_backend()) == ["fastpix.E009"]


def test_django_tasks_db_without_its_app_is_e010(settings, monkeypatch):
    settings.FASTPIX = {**settings.FASTPIX, "TASK_BACKEND": "queue"}
    assert check_task_backend() == []  # the test settings install django_tasks_db
    monkeypatch.setattr(fastpix_checks.apps, "is_installed", lambda name: name != "django_tasks_db")
    (error,) = check_task_backend()
    assert error.id == "fastpix.E010" and DB_BACKEND in error.msg and "db_worker" in error.msg
    assert "pip install django-tasks-db" in error.hint and "migrate" in error.hint


# --- the webhook route ---


def test_the_included_route_passes(settings):
    assert check_webhook_route() == []
    assert webhook_path("prod") == "/fastpix/webhooks/prod/"
    assert webhook_route_problem("prod") is None


def test_a_forgotten_include_is_w004(settings):
    settings.ROOT_URLCONF = "tests.admin.urls_no_webhook"
    (warning,) = check_webhook_route()
    assert warning.id == "fastpix.W004" and "404" in warning.msg
    assert 'include("django_fastpix.urls")' in warning.hint


def test_a_catch_all_before_the_include_is_w004(settings):
    settings.ROOT_URLCONF = "tests.integration.urls_webhook_shadowed_all"
    (warning,) = check_webhook_route()
    assert warning.id == "fastpix.W004" and "catch_all" in warning.msg
    assert "shadows" in warning.msg


def test_a_script_prefix_is_not_mistaken_for_a_missing_route(settings):
    set_script_prefix("/site/")
    try:
        assert webhook_path("prod") == "/site/fastpix/webhooks/prod/"
        assert check_webhook_route() == []
    finally:
        clear_script_prefix()


# --- the doctor ---


@pytest.fixture
def ready_workspace(workspace, make_token):
    make_token()
    workspace.webhook_secret = "d2ViaG9vay1zZWNyZXQtZm9yLW5ld2NvbWVycw=="
    workspace.save()
    return workspace


def findings_about(text: str, **kwargs):
    return [f for f in diagnose(verify=False, **kwargs) if text in f.message]


def test_doctor_says_the_route_is_there(ready_workspace):
    (finding,) = findings_about("Webhooks are routed")
    assert finding.level == OK and finding.area == "workspace prod"
    assert "/fastpix/webhooks/prod/" in finding.message
    assert "fastpix_workspace webhook-url prod" in finding.message


def test_doctor_fails_a_forgotten_include_once(ready_workspace, settings):
    settings.ROOT_URLCONF = "tests.admin.urls_no_webhook"
    findings = [f for f in diagnose(verify=False) if f.check_id == "fastpix.W004"]
    assert [(f.level, f.area) for f in findings] == [(FAIL, "settings")]
    assert findings_about("Webhooks are routed") == []


def test_doctor_fails_a_workspace_whose_url_is_shadowed(ready_workspace, settings):
    settings.ROOT_URLCONF = "tests.integration.urls_webhook_shadowed"
    assert check_webhook_route() == []  # other slugs are routed
    (finding,) = findings_about("shadows it")
    assert finding.level == FAIL and finding.area == "workspace prod"
    assert "/fastpix/webhooks/prod/" in finding.message and "prod_catch_all" in finding.message
    assert "urls.py" in finding.remedy


def test_doctor_names_the_command_for_a_missing_webhook_secret(workspace, make_token):
    make_token()
    (finding,) = findings_about("No webhook secret")
    assert finding.level == WARN
    assert "fastpix_workspace set-webhook-secret prod" in finding.remedy
