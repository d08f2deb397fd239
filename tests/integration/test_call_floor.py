"""The one query a healthy call pays (services.routes.confirm) stays absolute.

"Another process" is a committed UPDATE with no signal in this process: the cached route must
notice it in the very next call, whatever changed (status, level, workspace, either
ciphertext, the workspace's limits).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_fastpix.client import FastPixClient
from django_fastpix.exceptions import (
    NoUsableTokenError,
    UndecryptableValueError,
    WorkspaceLimitedError,
)
from django_fastpix.models import AccessToken, TokenStatus, WorkspaceLimits
from django_fastpix.scopes import Area, Scope
from django_fastpix.services import api, limits, routes
from django_fastpix.services.encryption import rotate_encryption_keys
from tests.conftest import SECRET
from tests.settings import FIELD_ENCRYPTION_KEY as ORIGINAL_KEY

pytestmark = pytest.mark.django_db


def list_media(workspace: Any) -> Any:
    return api.call(workspace, FastPixClient.list_media)


def create_media(workspace: Any) -> Any:
    return api.call(workspace, FastPixClient.create_media, "https://example.com/v.mp4")


def stored(token: AccessToken) -> tuple[str, str]:
    """The token's ciphertexts as stored."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT token_id, secret_key FROM {AccessToken._meta.db_table} WHERE id = %s",
            [token.pk],
        )
        row = cursor.fetchone()
    return row[0], row[1]


def routed(workspace: Any) -> None:
    """Make the next call go through a cached route (and check that it does)."""
    list_media(workspace)
    assert any(key[0] == workspace.pk for key in routes.ROUTES)


def test_a_healthy_call_is_one_query_with_nothing_secret_in_it(fake_api, fake_token, workspace):
    token = fake_token()
    routed(workspace)
    token_ct, secret_ct = stored(token)
    with CaptureQueriesContext(connection) as queries:
        list_media(workspace)
    assert len(queries) == 1
    sql = queries[0]["sql"]
    assert SECRET not in sql and token.credentials().token_id not in sql
    # The ciphertexts are compared here, not sent.
    assert token_ct not in sql and secret_ct not in sql
    assert fake_api.requests[-1].status == 200


@pytest.mark.parametrize("status", [TokenStatus.REVOKED, TokenStatus.INVALID])
def test_a_status_change_elsewhere_stops_the_next_call(fake_api, fake_token, workspace, status):
    token = fake_token()
    routed(workspace)
    AccessToken.objects.filter(pk=token.pk).update(status=status)
    sent = len(fake_api.requests)
    with pytest.raises(NoUsableTokenError):
        list_media(workspace)
    assert len(fake_api.requests) == sent


def test_a_deleted_token_elsewhere_stops_the_next_call(fake_api, fake_token, workspace):
    token = fake_token()
    routed(workspace)
    with connection.cursor() as cursor:  # no post_delete in this process
        cursor.execute(f"DELETE FROM {AccessToken._meta.db_table} WHERE id = %s", [token.pk])
    with pytest.raises(NoUsableTokenError):
        list_media(workspace)


def test_a_lowered_level_elsewhere_stops_the_next_write(fake_api, fake_token, workspace):
    token = fake_token()
    create_media(workspace)
    AccessToken.objects.filter(pk=token.pk).update(scope=Scope.READ)
    sent = len(fake_api.requests)
    with pytest.raises(NoUsableTokenError):
        create_media(workspace)
    assert len(fake_api.requests) == sent
    list_media(workspace)  # reads still may use it


def test_a_token_moved_to_another_workspace_is_not_used_for_the_old_one(
    fake_api, fake_token, workspace, other_workspace
):
    token = fake_token()
    routed(workspace)
    AccessToken.objects.filter(pk=token.pk).update(workspace=other_workspace)
    with pytest.raises(NoUsableTokenError):
        list_media(workspace)


def test_a_key_rotation_elsewhere_is_picked_up(fake_api, fake_token, workspace, settings, new_key):
    token = fake_token()
    routed(workspace)
    before = stored(token)
    settings.FIELD_ENCRYPTION_KEY = [new_key, ORIGINAL_KEY]
    rotate_encryption_keys()  # bulk_update: no signal
    assert stored(token) != before
    settings.FIELD_ENCRYPTION_KEY = new_key  # the old key is gone
    list_media(workspace)
    assert fake_api.requests[-1].status == 200


def test_a_rotation_to_a_key_this_process_lacks_fails_closed(
    fake_api, fake_token, workspace, settings, new_key
):
    fake_token()
    routed(workspace)
    settings.FIELD_ENCRYPTION_KEY = [new_key, ORIGINAL_KEY]
    rotate_encryption_keys()
    settings.FIELD_ENCRYPTION_KEY = ORIGINAL_KEY  # this process was not given the new key
    sent = len(fake_api.requests)
    with pytest.raises(UndecryptableValueError) as refused:
        list_media(workspace)
    assert SECRET not in str(refused.value) and SECRET not in repr(refused.value)
    assert len(fake_api.requests) == sent


# --- the limits read with it ---


def test_a_pause_recorded_elsewhere_holds_the_next_call(fake_api, fake_token, workspace):
    fake_token()
    routed(workspace)
    limits.store().pause(workspace.pk, timezone.now() + timedelta(seconds=60), "HTTP 429")
    sent = len(fake_api.requests)
    with pytest.raises(WorkspaceLimitedError) as refused:
        list_media(workspace)
    assert refused.value.state == "paused"
    assert len(fake_api.requests) == sent


def test_a_circuit_opened_elsewhere_holds_the_next_call(fake_api, fake_token, workspace, settings):
    settings.FASTPIX = {**settings.FASTPIX, "CIRCUIT_FAILURE_THRESHOLD": 1}
    fake_token()
    routed(workspace)
    assert limits.store().record_failure(workspace.pk, "ServerError: 503", timezone.now())
    with pytest.raises(WorkspaceLimitedError) as refused:
        list_media(workspace)
    assert refused.value.state == "circuit open"


def test_an_ended_pause_is_dropped_and_calls_are_one_query_again(
    fake_api, fake_token, workspace, django_assert_num_queries
):
    fake_token()
    routed(workspace)
    ended = timezone.now() - timedelta(seconds=1)
    limits.store().pause(workspace.pk, ended, "HTTP 429")
    list_media(workspace)  # reads the whole row once, and drops the ended pause
    assert WorkspaceLimits.objects.get(pk=workspace.pk).paused_until is None
    with django_assert_num_queries(1):
        list_media(workspace)


def test_dropping_an_ended_pause_never_drops_a_newer_one(workspace):
    ended = timezone.now() - timedelta(seconds=1)
    store = limits.store()
    store.pause(workspace.pk, ended, "old")
    state = limits.read(workspace)
    newer = timezone.now() + timedelta(seconds=60)
    store.pause(workspace.pk, newer, "new")  # another process, meanwhile
    assert limits.admit(workspace, state) is False  # the state read says: ended
    assert limits.read(workspace).paused_until == newer


def test_with_the_cache_store_the_route_still_confirms_the_token(
    fake_api, fake_token, workspace, settings, django_assert_num_queries
):
    settings.FASTPIX = {**settings.FASTPIX, "LIMITS_STORE": "cache", "LIMITS_CACHE": "default"}
    token = fake_token()
    routed(workspace)
    with django_assert_num_queries(1):
        list_media(workspace)
    AccessToken.objects.filter(pk=token.pk).update(status=TokenStatus.REVOKED)
    with pytest.raises(NoUsableTokenError):
        list_media(workspace)


def test_a_route_of_other_settings_is_not_used(fake_api, fake_token, workspace, settings):
    fake_token()
    routed(workspace)
    settings.FASTPIX = {**settings.FASTPIX, "LIMITS_STORE": "cache", "LIMITS_CACHE": "default"}
    limits.store().pause(workspace.pk, timezone.now() + timedelta(seconds=60), "HTTP 429")
    with pytest.raises(WorkspaceLimitedError):
        list_media(workspace)


# --- the query text ---


def test_integer_keys_are_literals_and_anything_else_stays_a_parameter():
    sql, params = routes._sql(Area.VIDEO, True, (7, 42))
    assert params is None and "= 7)" in sql and sql.endswith("= 42")
    sql, params = routes._sql(Area.DATA, False, ("42",))
    assert params == ("42",) and sql.endswith("= %s") and "data_scope" in sql
    sql, params = routes._sql(Area.SYSTEM, True, (True, 42))  # a bool is no key
    assert params == (True, 42)


# --- what call() keeps between calls besides the route ---


def test_settings_changed_in_place_take_effect_on_the_next_call(
    fake_api, fake_token, workspace, settings
):
    fake_token()
    routed(workspace)
    settings.FASTPIX["LIMITS_STORE"] = "cache"  # the same dict, changed
    settings.FASTPIX["LIMITS_CACHE"] = "default"
    limits.store().pause(workspace.pk, timezone.now() + timedelta(seconds=60), "HTTP 429")
    with pytest.raises(WorkspaceLimitedError):
        list_media(workspace)
    settings.FASTPIX["NO_SUCH_SETTING"] = 1
    with pytest.raises(ImproperlyConfigured, match="NO_SUCH_SETTING"):
        list_media(workspace)


def test_last_used_follows_the_interval_in_force(
    fake_api, fake_token, workspace, settings, django_assert_num_queries
):
    token = fake_token()
    routed(workspace)
    with django_assert_num_queries(1):
        list_media(workspace)
    settings.FASTPIX = {**settings.FASTPIX, "LAST_USED_WRITE_INTERVAL": 0}
    for _ in range(2):
        with django_assert_num_queries(2):  # the confirming read and the UPDATE
            list_media(workspace)
    stamped = AccessToken.objects.get(pk=token.pk).last_used_at
    assert stamped is not None and timezone.now() - stamped < timedelta(seconds=5)


def test_a_client_method_patched_away_is_checked_again(fake_api, fake_token, workspace):
    fake_token()
    original = FastPixClient.list_media
    routed(workspace)

    def list_media_without_scope(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("never sent")

    list_media_without_scope.__name__ = "list_media"
    with mock.patch.object(FastPixClient, "list_media", list_media_without_scope):
        with pytest.raises(ValueError, match="does not declare a FastPix scope"):
            api.call(workspace, FastPixClient.list_media)
        with pytest.raises(TypeError, match="is not a FastPixClient method"):
            api.call(workspace, original)
    api.call(workspace, original)
