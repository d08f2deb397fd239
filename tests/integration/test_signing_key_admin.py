"""The signing-key admin against the fake FastPix: who sees it, create, rotate, revoke, prune,
clear messages when FastPix or the token store says no, and the private key never shown."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test import Client
from django.utils import timezone

from django_fastpix.client import FastPixClient
from django_fastpix.exceptions import NotFoundError, SigningKeyError
from django_fastpix.models import SigningKey, SigningKeyStatus
from django_fastpix.scopes import Scope
from django_fastpix.services import api
from django_fastpix.services.signing_keys import (
    CLOCK_SKEW,
    create_signing_key,
    signing_key_for,
    token_lifetime,
)
from tests.admin.conftest import (
    PASSWORD,
    action_post,
    admin_url,
    confirm_post,
    grant,
    messages_of,
)

pytestmark = pytest.mark.django_db

KEYS_LINK = 'href="/admin/django_fastpix/signingkey/"'
KEY_ROUTES = "/iam/signing-keys"


# --- helpers shared with test_signing_key_command ---


def private_key_fragments(key: SigningKey) -> list[str]:
    """What must never show: the PEM, each full line of its base64 body, and the base64 of the
    whole PEM as FastPix sent it (in 64-character pieces)."""
    pem = SigningKey.objects.get(pk=key.pk).private_key_pem()
    assert pem.startswith("-----BEGIN")
    # Full lines only: a short last line ("Ab==") could occur by chance in unrelated text.
    lines = [line for line in pem.strip().splitlines() if not line.startswith("-----")]
    body = [line for line in lines if len(line) >= 48]
    assert len(body) > 20
    as_sent = base64.b64encode(pem.encode()).decode()
    pieces = [as_sent[i : i + 64] for i in range(0, len(as_sent) - 64, 64)]
    return [pem, *body, *pieces]


def assert_no_private_key(fragments: list[str], *texts: str | bytes) -> None:
    for text in texts:
        haystack = text.decode() if isinstance(text, bytes) else text
        leaked = [f for f in fragments if f in haystack]
        assert not leaked, f"private key material found: {leaked[0][:12]}…"


def stored_rows() -> str:
    """The signing-key table as the database holds it (raw SQL, no field decryption)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {SigningKey._meta.db_table}")
        return repr(cursor.fetchall())


def key_requests(fake, token_id: str | None = None) -> list:
    """Requests the fake received on the signing-key routes (with this token id, if given)."""
    return [
        r
        for r in fake.requests
        if KEY_ROUTES in r.path and (token_id is None or r.token_id == token_id)
    ]


# --- fixtures ---


@pytest.fixture
def system_token(fake_token):
    """A token granted video and system read+write, in the fake and as recorded here."""
    return fake_token(scope=Scope.READ_WRITE, system=Scope.READ_WRITE)


@pytest.fixture
def make_user(django_user_model):
    def make(username: str, *codenames: str, staff: bool = True) -> Client:
        user = django_user_model.objects.create_user(username, password=PASSWORD, is_staff=staff)
        grant(user, *codenames)
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def key_manager(make_user) -> Client:
    """Staff holding manage_signing_keys and nothing else."""
    return make_user("keymanager", "manage_signing_keys")


@pytest.fixture
def other_staff(make_user) -> Client:
    """Staff with view permission on every model, including signing keys, and manage_tokens."""
    return make_user(
        "viewer",
        "view_signingkey",
        "add_signingkey",
        "change_signingkey",
        "delete_signingkey",
        "view_workspace",
        "view_media",
        "manage_tokens",
    )


def post(client: Client, body: dict, **kwargs):
    """POST to the changelist, its messages alone in ``messages_of(response)``."""
    client.get("/admin/")  # shows, and so consumes, messages queued by earlier requests
    return client.post(admin_url("signingkey", "changelist"), body, **kwargs)


def create_through_admin(client: Client, workspace) -> tuple:
    response = client.post(admin_url("signingkey", "add"), {"workspace": workspace.pk})
    return response, SigningKey.objects.filter(workspace=workspace).order_by("-pk").first()


# --- who sees it ---


@pytest.mark.parametrize("who", ["superuser", "key_manager"])
def test_superusers_and_key_managers_see_and_create(who, request, workspace, system_token):
    client = request.getfixturevalue("admin_client" if who == "superuser" else who)
    assert KEYS_LINK in client.get("/admin/").content.decode()
    assert KEYS_LINK in client.get("/admin/django_fastpix/").content.decode()
    page = client.get(admin_url("signingkey", "add"))
    assert page.status_code == 200 and 'name="workspace"' in page.content.decode()
    response, key = create_through_admin(client, workspace)
    assert response.status_code == 302, messages_of(response)
    assert key is not None and key.status == SigningKeyStatus.ACTIVE
    assert key.created_by.startswith("admin:")
    assert [level for level, _ in messages_of(response)] == ["success"]
    assert key.fastpix_id in client.get(admin_url("signingkey", "changelist")).content.decode()
    assert client.get(admin_url("signingkey", "change", key.pk)).status_code == 200
    assert client.get(admin_url("signingkey", "history", key.pk)).status_code == 200


def test_staff_without_manage_signing_keys_sees_nothing_and_can_do_nothing(
    other_staff, workspace, system_token, fastpix_fake
):
    key = create_signing_key(workspace, by="test")
    for page in ("/admin/", "/admin/django_fastpix/"):
        response = other_staff.get(page)
        assert KEYS_LINK not in response.content.decode(), page
    urls = [
        admin_url("signingkey", "changelist"),
        admin_url("signingkey", "add"),
        admin_url("signingkey", "change", key.pk),
        admin_url("signingkey", "history", key.pk),
        admin_url("signingkey", "delete", key.pk),
    ]
    for url in urls:
        assert other_staff.get(url).status_code == 403, url
    assert (
        other_staff.post(admin_url("signingkey", "add"), {"workspace": workspace.pk}).status_code
        == 403
    )
    fastpix_fake.clear_requests()
    for action in ("rotate_keys", "revoke_keys", "prune_keys"):
        for body in (
            action_post(action, [key.pk]),
            confirm_post(action, [key.pk], reason="x"),
        ):
            assert post(other_staff, body).status_code == 403, action
    assert key_requests(fastpix_fake) == []
    key.refresh_from_db()
    assert key.status == SigningKeyStatus.ACTIVE
    assert SigningKey.objects.count() == 1


def test_non_staff_are_sent_to_the_login_page(make_user, workspace):
    client = make_user("someone", "manage_signing_keys", staff=False)
    response = client.get(admin_url("signingkey", "changelist"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_rows_cannot_be_deleted_or_edited_even_by_a_superuser(
    admin_client, workspace, system_token
):
    key = create_signing_key(workspace, by="test")
    assert admin_client.get(admin_url("signingkey", "delete", key.pk)).status_code == 403
    assert (
        admin_client.post(admin_url("signingkey", "delete", key.pk), {"post": "yes"}).status_code
        == 403
    )
    response = admin_client.get(admin_url("signingkey", "changelist"))
    choices = [value for value, _ in response.context["action_form"].fields["action"].choices]
    assert choices == ["", "rotate_keys", "revoke_keys", "prune_keys"]
    change = admin_client.get(admin_url("signingkey", "change", key.pk)).content.decode()
    assert 'name="fastpix_id"' not in change and 'name="status"' not in change
    assert (
        admin_client.post(
            admin_url("signingkey", "change", key.pk), {"fastpix_id": "x"}
        ).status_code
        == 403
    )
    assert SigningKey.objects.get().fastpix_id == key.fastpix_id


# --- rotate, revoke, prune ---


def test_rotate_leaves_the_old_key_retiring_for_the_token_lifetime(
    key_manager, workspace, system_token
):
    old = create_signing_key(workspace, by="test")
    page = post(key_manager, action_post("rotate_keys", [old.pk]))
    assert page.status_code == 200 and "Rotate playback signing keys" in page.content.decode()
    response = post(key_manager, confirm_post("rotate_keys", [old.pk]))
    assert response.status_code == 302
    old.refresh_from_db()
    new = SigningKey.objects.exclude(pk=old.pk).get()
    assert new.status == SigningKeyStatus.ACTIVE and old.status == SigningKeyStatus.RETIRING
    expected = timezone.now() + timedelta(seconds=token_lifetime()) + CLOCK_SKEW
    assert abs((old.expires_at - expected).total_seconds()) < 10
    assert signing_key_for(workspace, create=False).pk == new.pk
    [(level, text)] = messages_of(response)
    assert level == "success" and new.fastpix_id in text and "stay valid in FastPix until" in text
    logged = LogEntry.objects.filter(object_id__in=[str(old.pk), str(new.pk)])
    assert sorted(e.get_change_message() for e in logged) == sorted(
        ["Created in FastPix by a rotation", f"Retiring: replaced by {new.fastpix_id}"]
    )


def test_rotate_reports_each_workspace_once(admin_client, workspace, other_workspace, fake_token):
    fake_token(system=Scope.READ_WRITE)
    fake_token(ws=other_workspace, system=Scope.READ_WRITE, fake_workspace="ws-dev")
    a1 = create_signing_key(workspace)
    a2 = create_signing_key(workspace)
    b1 = create_signing_key(other_workspace)
    response = post(admin_client, confirm_post("rotate_keys", [a1.pk, a2.pk, b1.pk]))
    assert [level for level, _ in messages_of(response)] == ["success", "success"]
    assert SigningKey.objects.filter(status=SigningKeyStatus.ACTIVE).count() == 2
    assert SigningKey.objects.filter(status=SigningKeyStatus.RETIRING).count() == 3


def test_revoke_asks_for_a_reason_deletes_in_fastpix_and_never_picks_it_again(
    key_manager, workspace, system_token, fastpix_fake
):
    key = create_signing_key(workspace, by="test")
    page = post(key_manager, action_post("revoke_keys", [key.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and 'name="reason"' in html and key.fastpix_id in html
    no_reason = post(key_manager, confirm_post("revoke_keys", [key.pk], reason=""))
    assert no_reason.status_code == 200  # the page again, with the error
    assert SigningKey.objects.get().status == SigningKeyStatus.ACTIVE

    response = post(key_manager, confirm_post("revoke_keys", [key.pk], reason="pasted in chat"))
    assert messages_of(response) == [
        ("success", f"{key.fastpix_id}: revoked and deleted in FastPix.")
    ]
    key.refresh_from_db()
    assert key.status == SigningKeyStatus.REVOKED and key.status_reason == "pasted in chat"
    assert key.deleted_in_fastpix_at is not None and key.status_changed_by == "admin:keymanager"
    with pytest.raises(NotFoundError):
        api.call(workspace, FastPixClient.get_signing_key, key.fastpix_id)
    assert fastpix_fake.requests_for(f"GET /iam/signing-keys/{key.fastpix_id}")[-1].status == 404
    with pytest.raises(SigningKeyError):
        signing_key_for(workspace, create=False)
    assert signing_key_for(workspace).pk != key.pk  # a new key, never the revoked one

    again = post(key_manager, confirm_post("revoke_keys", [key.pk], reason="twice"))
    assert [level for level, _ in messages_of(again)] == ["warning"]


def test_revoke_when_fastpix_fails_says_the_key_still_works_there_then_prune_finishes(
    admin_client, workspace, system_token, fastpix_fake
):
    key = create_signing_key(workspace, by="test")
    fastpix_fake.inject("DELETE /iam/signing-keys/*", status=500)
    response = post(admin_client, confirm_post("revoke_keys", [key.pk], reason="leak"))
    [(level, text)] = messages_of(response)
    assert level == "error" and "still accepts tokens signed with it" in text
    key.refresh_from_db()
    assert key.status == SigningKeyStatus.REVOKED and key.deleted_in_fastpix_at is None

    page = post(admin_client, action_post("prune_keys", [key.pk]))
    assert page.status_code == 200 and key.fastpix_id in page.content.decode()
    failed = post(admin_client, confirm_post("prune_keys", [key.pk]))
    assert [level for level, _ in messages_of(failed)] == ["error"]
    fastpix_fake.clear_faults()
    done = post(admin_client, confirm_post("prune_keys", [key.pk]))
    assert messages_of(done) == [("success", "Deleted 1 signing key in FastPix.")]
    assert fastpix_fake.signing_key_public_pem(key.fastpix_id) is None
    nothing = post(admin_client, action_post("prune_keys", [key.pk]))
    assert [level for level, _ in messages_of(nothing)] == ["info"]


def test_prune_deletes_retiring_keys_past_their_overlap_only(
    admin_client, workspace, system_token, fastpix_fake
):
    old = create_signing_key(workspace, by="test")
    post(admin_client, confirm_post("rotate_keys", [old.pk]))
    assert [
        lv for lv, _ in messages_of(post(admin_client, action_post("prune_keys", [old.pk])))
    ] == ["info"]
    SigningKey.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    done = post(admin_client, confirm_post("prune_keys", [old.pk]))
    assert messages_of(done) == [("success", "Deleted 1 signing key in FastPix.")]
    old.refresh_from_db()
    assert old.status == SigningKeyStatus.RETIRED and old.deleted_in_fastpix_at
    assert fastpix_fake.signing_key_public_pem(old.fastpix_id) is None


# --- FastPix or the token store says no ---


def test_a_video_only_token_is_never_sent_and_the_admin_says_what_to_do(
    admin_client, workspace, fake_token, fastpix_fake
):
    # FastPix granted it System, but it is not recorded here: the pick must not use it.
    video_only = fake_token(scope=Scope.READ_WRITE, fake_system="read_write")
    response, key = create_through_admin(admin_client, workspace)
    assert response.status_code == 200 and key is None  # the page again
    [(level, text)] = messages_of(response)
    assert level == "error"
    assert "system permission" in text and "fastpix_token permissions ID --system" in text
    assert key_requests(fastpix_fake) == []
    assert key_requests(fastpix_fake, video_only.credentials().token_id) == []


def test_only_the_system_token_is_used_for_signing_key_calls(
    admin_client, workspace, fake_token, fastpix_fake
):
    video_only = fake_token(scope=Scope.READ_WRITE, token_id="tok_video_only_0001")
    system = fake_token(scope=Scope.READ, system=Scope.READ_WRITE, token_id="tok_system_0002")
    response, key = create_through_admin(admin_client, workspace)
    assert response.status_code == 302 and key is not None
    post(admin_client, confirm_post("rotate_keys", [key.pk]))
    post(admin_client, confirm_post("revoke_keys", [key.pk], reason="test"))
    sent = key_requests(fastpix_fake)
    assert len(sent) == 3  # create, create (rotation), delete
    assert {r.token_id for r in sent} == {system.credentials().token_id}
    assert key_requests(fastpix_fake, video_only.credentials().token_id) == []


def test_fastpix_refusing_the_system_permission_is_a_clear_message(
    admin_client, workspace, fake_token, fastpix_fake
):
    token = fake_token(system=Scope.READ_WRITE, fake_system="none")  # recorded, not granted
    response, key = create_through_admin(admin_client, workspace)
    assert response.status_code == 200 and key is None
    [(level, text)] = messages_of(response)
    assert level == "error" and "403" in text and "record what it really has" in text
    token.refresh_from_db()
    assert token.status == "active"  # a 403 is a permission problem, not an invalid token


def test_revoke_without_a_system_token_revokes_here_and_says_why_fastpix_still_has_it(
    admin_client, workspace, system_token, fastpix_fake
):
    key = create_signing_key(workspace, by="test")
    system_token.system_scope = Scope.NONE
    system_token.save(update_fields=["system_scope"])
    response = post(admin_client, confirm_post("revoke_keys", [key.pk], reason="leak"))
    [(level, text)] = messages_of(response)
    assert level == "error" and "recorded with System read and write" in text
    key.refresh_from_db()
    assert key.status == SigningKeyStatus.REVOKED  # never used again, whatever FastPix said
    assert fastpix_fake.signing_key_public_pem(key.fastpix_id) is not None


# --- the private key is never shown ---


def test_no_page_log_entry_or_log_record_holds_the_private_key(
    admin_client, workspace, system_token, fastpix_fake, caplog, settings
):
    settings.DEBUG = True  # Django logs every SQL statement with its parameters
    caplog.set_level(logging.DEBUG)
    pages = [admin_client.get(admin_url("signingkey", "add"))]
    created = admin_client.post(
        admin_url("signingkey", "add"), {"workspace": workspace.pk}, follow=True
    )
    first = SigningKey.objects.get()
    pages += [created, post(admin_client, action_post("rotate_keys", [first.pk]))]
    pages.append(post(admin_client, confirm_post("rotate_keys", [first.pk]), follow=True))
    second = SigningKey.objects.get(status=SigningKeyStatus.ACTIVE)
    changelist = admin_url("signingkey", "changelist")
    pages += [
        admin_client.get(changelist),
        admin_client.get(changelist, {"q": second.fastpix_id[:6]}),
        admin_client.get(changelist, {"status__exact": "retiring"}),
        admin_client.get(admin_url("signingkey", "change", first.pk)),
        admin_client.get(admin_url("signingkey", "change", second.pk)),
        post(admin_client, action_post("revoke_keys", [first.pk, second.pk])),
        admin_client.get("/admin/"),
        admin_client.get("/admin/django_fastpix/"),
    ]
    SigningKey.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(1))
    pages.append(post(admin_client, action_post("prune_keys", [first.pk])))
    pages.append(post(admin_client, confirm_post("prune_keys", [first.pk]), follow=True))
    pages += [
        admin_client.get(admin_url("signingkey", "history", first.pk)),
        admin_client.get(admin_url("signingkey", "history", second.pk)),
    ]
    for page in pages:
        assert page.status_code == 200, page.request["PATH_INFO"]
    log_entries = repr(list(LogEntry.objects.values()))
    assert "Created in FastPix" in log_entries
    for key in (first, second):
        fragments = private_key_fragments(key)
        with pytest.raises(AssertionError):  # the search does find a leak
            assert_no_private_key(fragments, f"<td>{fragments[3]}</td>")
        assert_no_private_key(
            fragments, *(p.content for p in pages), log_entries, caplog.text, stored_rows()
        )
    assert any(r.name == "django.db.backends" for r in caplog.records)  # SQL was logged
