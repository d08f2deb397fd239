"""Token permissions per FastPix area (video, data, system): the admin forms, the fastpix_token
flags and `permissions` sub-command, the verification probe each grant allows (checked on the
fake's request log), and stored tokens keeping their video grant across the migration."""

from __future__ import annotations

import io
import json
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from django_fastpix.models import AccessToken, TokenStatus, Workspace
from django_fastpix.scopes import Area, Scope
from django_fastpix.services.tokens import add_token, revoke_token
from django_fastpix.services.verify import NOT_PROBED, pair_problem, verify_token
from tests.admin.conftest import admin_url, messages_of
from tests.conftest import SECRET

TOKEN_ID = "tok_areas_0000_9c1d"
VIDEO_PROBE = "GET /on-demand"
SYSTEM_PROBE = "GET /iam/signing-keys"


def form(workspace, **extra: str) -> dict[str, str]:
    return {
        "workspace": str(workspace.pk),
        "name": "areas",
        "scope": "read_write",
        "data_scope": "none",
        "system_scope": "none",
        "token_id": TOKEN_ID,
        "secret_key": SECRET,
        **extra,
    }


def probes(fake) -> list[str]:
    """The verification reads the fake received, as "METHOD /path" (without /v1)."""
    return [
        f"{r.method} {r.path.removeprefix('/v1')}"
        for r in fake.requests
        if r.path.removeprefix("/v1") in ("/on-demand", "/iam/signing-keys")
    ]


def token_cmd(*args: str, stdin: str | None = None, monkeypatch=None) -> str:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    out, err = io.StringIO(), io.StringIO()
    call_command("fastpix_token", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def stored(workspace, *, video="read_write", data="none", system="none", name="t") -> AccessToken:
    return add_token(
        workspace=workspace,
        name=name,
        token_id=f"tok_{name}_{video}_{data}_{system}".replace("_", "-"),
        secret_key=SECRET,
        scope=video,
        data_scope=data,
        system_scope=system,
    )


# --- the admin ---


@pytest.mark.django_db
def test_admin_add_with_system_only_probes_the_signing_key_list(admin_client, workspace, fake_api):
    fake_api.add_token(TOKEN_ID, SECRET, "none", "ws-default", system="read")
    response = admin_client.post(
        admin_url("accesstoken", "add"), form(workspace, scope="none", system_scope="read")
    )
    assert response.status_code == 302, messages_of(response)
    token = AccessToken.objects.get()
    assert (token.scope, token.data_scope, token.system_scope) == ("none", "none", "read")
    assert token.last_verified_at is not None
    assert probes(fake_api) == [SYSTEM_PROBE]


@pytest.mark.django_db
def test_admin_add_probe_refused_by_fastpix_names_the_area(admin_client, workspace, fake_api):
    fake_api.add_token(TOKEN_ID, SECRET, "none", "ws-default")  # FastPix granted nothing
    response = admin_client.post(
        admin_url("accesstoken", "add"), form(workspace, scope="none", system_scope="read_write")
    )
    assert response.status_code == 200
    errors = str(response.context["adminform"].form.non_field_errors())
    assert "may not read signing keys (403)" in errors and "System permission" in errors
    assert not AccessToken.objects.exists()


@pytest.mark.django_db
def test_admin_add_data_only_is_stored_unverified_without_a_request(
    admin_client, workspace, fake_api
):
    response = admin_client.post(
        admin_url("accesstoken", "add"), form(workspace, scope="none", data_scope="read")
    )
    assert response.status_code == 302
    token = AccessToken.objects.get()
    assert token.data_scope == "read" and token.last_verified_at is None
    assert fake_api.requests == []
    [(level, text)] = messages_of(response)[:1]
    assert level == "warning" and NOT_PROBED in text


@pytest.mark.django_db
def test_admin_refuses_a_token_granted_nothing(admin_client, workspace, fake_api):
    response = admin_client.post(admin_url("accesstoken", "add"), form(workspace, scope="none"))
    assert response.status_code == 200
    assert "granted nothing" in str(response.context["adminform"].form.non_field_errors())
    assert fake_api.requests == [] and not AccessToken.objects.exists()


@pytest.mark.django_db
def test_admin_change_form_round_trip_changelist_and_system_filter(
    admin_client, workspace, fake_api
):
    token = stored(workspace, name="uploader")
    other = stored(workspace, name="signer", video="read", system="read_write")
    add_page = admin_client.get(admin_url("accesstoken", "add")).content.decode()
    change = admin_url("accesstoken", "change", token.pk)
    page = admin_client.get(change).content.decode()
    for html in (add_page, page):
        assert "Video permission" in html and "System permission" in html
        assert "signing keys" in html and "FastPix dashboard" in html
    response = admin_client.post(
        change,
        {"name": "uploader", "scope": "read", "data_scope": "read", "system_scope": "read_write"},
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert (token.scope, token.data_scope, token.system_scope) == ("read", "read", "read_write")
    assert token.credentials().secret_key == SECRET and fake_api.requests == []
    assert (
        admin_client.post(
            change,
            {"name": "uploader", "scope": "none", "data_scope": "none", "system_scope": "none"},
        ).status_code
        == 200
    )  # granted nothing: refused
    token.refresh_from_db()
    assert token.scope == "read"

    changelist = admin_url("accesstoken", "changelist")
    html = admin_client.get(changelist).content.decode()
    assert "video: read only, data: read only, system: read and write" in html
    only_system = admin_client.get(changelist, {"system_scope__exact": "read_write"})
    assert {t.pk for t in only_system.context["cl"].result_list} == {token.pk, other.pk}
    none = admin_client.get(changelist, {"system_scope__exact": "none"})
    assert list(none.context["cl"].result_list) == []


@pytest.mark.django_db
def test_admin_revoked_token_permissions_are_read_only(admin_client, workspace):
    token = stored(workspace, name="leaked", system="read_write")
    revoke_token(token, reason="leak", by="test")
    change = admin_url("accesstoken", "change", token.pk)
    html = admin_client.get(change).content.decode()
    assert 'name="system_scope"' not in html and "Read and write" in html
    body = {"name": "x", "scope": "read", "data_scope": "none", "system_scope": "none"}
    assert admin_client.post(change, body).status_code == 403
    assert AccessToken.objects.get(pk=token.pk).system_scope == "read_write"


# --- fastpix_token ---


@pytest.mark.django_db
def test_add_flags_scope_alias_list_and_json(workspace, monkeypatch):
    out = token_cmd(
        "add", "--workspace", "prod", "--name", "all", "--video", "read", "--data", "read",
        "--system", "read_write", "--stdin", "--no-verify",
        stdin=f"{TOKEN_ID}\n{SECRET}\n", monkeypatch=monkeypatch,
    )  # fmt: skip
    assert "video: read only, data: read only, system: read and write" in out
    token_cmd(
        "add", "--workspace", "prod", "--name", "legacy", "--scope", "read", "--stdin",
        "--no-verify", stdin=f"tok_legacy_0001\n{SECRET}\n", monkeypatch=monkeypatch,
    )  # fmt: skip
    legacy = AccessToken.objects.get(name="legacy")
    assert (legacy.scope, legacy.data_scope, legacy.system_scope) == ("read", "none", "none")
    out = token_cmd(
        "add", "--workspace", "prod", "--name", "default", "--stdin", "--no-verify", "--json",
        stdin=f"tok_default_0002\n{SECRET}\n", monkeypatch=monkeypatch,
    )  # fmt: skip
    default = json.loads(out)
    assert (default["video"], default["data"], default["system"]) == ("read_write", "none", "none")
    assert default["scope"] == "read_write"  # the older key, kept for scripts

    listing = token_cmd("list")
    assert "VIDEO" in listing and "DATA" in listing and "SYSTEM" in listing
    rows = {r["name"]: r for r in json.loads(token_cmd("list", "--json"))}
    assert (rows["all"]["video"], rows["all"]["data"], rows["all"]["system"]) == (
        "read",
        "read",
        "read_write",
    )
    assert rows["all"]["permissions"] == "video: read only, data: read only, system: read and write"
    assert SECRET not in listing + json.dumps(rows)


@pytest.mark.django_db
def test_import_takes_the_same_flags(workspace, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"FASTPIX_TOKEN_ID={TOKEN_ID}\nFASTPIX_SECRET_KEY={SECRET}\n")
    token_cmd(
        "import", "--env-file", str(env_file), "--workspace", "prod", "--name", "imp",
        "--video", "none", "--system", "read_write", "--no-verify",
    )  # fmt: skip
    token = AccessToken.objects.get()
    assert (token.scope, token.system_scope) == ("none", "read_write")


@pytest.mark.django_db
def test_add_verifies_with_the_probe_the_grant_allows(workspace, fake_api, monkeypatch):
    fake_api.add_token(TOKEN_ID, SECRET, "none", "ws-default", system="read_write")
    out = token_cmd(
        "add", "--workspace", "prod", "--name", "signer", "--video", "none",
        "--system", "read_write", "--stdin",
        stdin=f"{TOKEN_ID}\n{SECRET}\n", monkeypatch=monkeypatch,
    )  # fmt: skip
    assert "FastPix accepted it." in out
    assert probes(fake_api) == [SYSTEM_PROBE]


@pytest.mark.django_db
def test_add_data_only_stores_unverified_and_says_why(workspace, fake_api, monkeypatch):
    out = token_cmd(
        "add", "--workspace", "prod", "--name", "analytics", "--video", "none", "--data", "read",
        "--stdin", stdin=f"{TOKEN_ID}\n{SECRET}\n", monkeypatch=monkeypatch,
    )  # fmt: skip
    assert NOT_PROBED in out
    assert AccessToken.objects.get().last_verified_at is None
    assert fake_api.requests == []


@pytest.mark.django_db
def test_add_refuses_a_token_granted_nothing(workspace, fake_api, monkeypatch):
    with pytest.raises(CommandError, match="granted nothing"):
        token_cmd(
            "add", "--workspace", "prod", "--name", "x", "--video", "none", "--stdin",
            stdin=f"{TOKEN_ID}\n{SECRET}\n", monkeypatch=monkeypatch,
        )  # fmt: skip
    assert fake_api.requests == [] and not AccessToken.objects.exists()


@pytest.mark.django_db
def test_replace_keeps_the_recorded_grant_unless_a_flag_changes_it(
    workspace, fake_api, monkeypatch
):
    token = stored(workspace, name="signer", video="none", system="read_write")
    token_id = token.credentials().token_id
    fake_api.add_token(token_id, "sk_new_0000", "none", "ws-default", system="read_write")
    token_cmd(
        "add", "--workspace", "prod", "--name", "signer", "--stdin", "--replace",
        stdin=f"{token_id}\nsk_new_0000\n", monkeypatch=monkeypatch,
    )  # fmt: skip
    token.refresh_from_db()
    assert (token.scope, token.system_scope) == ("none", "read_write")
    assert probes(fake_api) == [SYSTEM_PROBE]
    token_cmd(
        "add", "--workspace", "prod", "--name", "signer", "--stdin", "--replace", "--no-verify",
        "--data", "read", stdin=f"{token_id}\nsk_new_0000\n", monkeypatch=monkeypatch,
    )  # fmt: skip
    token.refresh_from_db()
    assert (token.scope, token.data_scope, token.system_scope) == ("none", "read", "read_write")


@pytest.mark.django_db
def test_permissions_subcommand_records_shows_and_refuses(workspace, fake_api):
    token = stored(workspace, name="web")
    shown = token_cmd("permissions", str(token.pk))
    assert "video: read and write" in shown
    out = token_cmd("permissions", str(token.pk), "--system", "read_write", "--data", "read")
    assert "Recorded" in out and "Nothing was changed in FastPix" in out
    token.refresh_from_db()
    assert (token.scope, token.data_scope, token.system_scope) == (
        "read_write",
        "read",
        "read_write",
    )
    as_json = json.loads(token_cmd("permissions", str(token.pk), "--video", "read", "--json"))
    assert (as_json["video"], as_json["data"], as_json["system"]) == ("read", "read", "read_write")
    assert "Unchanged" in token_cmd("permissions", str(token.pk), "--video", "read")
    with pytest.raises(CommandError, match="granted nothing"):
        token_cmd(
            "permissions", str(token.pk), "--video", "none", "--data", "none", "--system", "none"
        )
    assert fake_api.requests == []  # a record of the dashboard, not a call

    revoke_token(token, reason="leak", by="test")
    with pytest.raises(CommandError, match="revoked; a revoked token is read-only"):
        token_cmd("permissions", str(token.pk), "--system", "none")
    assert AccessToken.objects.get(pk=token.pk).system_scope == "read_write"
    with pytest.raises(CommandError, match="No token #999"):
        token_cmd("permissions", "999", "--system", "none")


# --- the verification probe ---


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("video", "system", "expected"),
    [
        ("read_write", "none", [VIDEO_PROBE]),
        ("read", "read_write", [VIDEO_PROBE]),
        ("none", "read", [SYSTEM_PROBE]),
        ("none", "read_write", [SYSTEM_PROBE]),
    ],
)
def test_verify_token_probes_what_the_token_may_read(workspace, fake_api, video, system, expected):
    token = stored(workspace, video=video, system=system)
    fake_api.add_token(token.credentials().token_id, SECRET, video, "ws-default", system=system)
    result = verify_token(token)
    assert result.ok and not result.unverifiable, result.detail
    assert probes(fake_api) == expected


@pytest.mark.django_db
def test_verify_a_data_only_token_sends_nothing(workspace, fake_api):
    token = stored(workspace, video="none", data="read")
    result = verify_token(token)
    assert result.unverifiable and not result.ok and result.detail == NOT_PROBED
    assert fake_api.requests == []
    token.refresh_from_db()
    assert token.status == TokenStatus.ACTIVE and token.last_verified_at is None
    # The command reports it and does not count it as a failure.
    out = token_cmd("verify", str(token.pk))
    assert NOT_PROBED in out
    [row] = json.loads(token_cmd("verify", str(token.pk), "--json"))
    assert row["verifiable"] is False and row["ok"] is False


@pytest.mark.django_db
def test_verify_403_names_what_the_token_could_not_read(workspace, fake_api):
    token = stored(workspace, video="none", system="read_write")
    fake_api.add_token(token.credentials().token_id, SECRET, "read_write", "ws-default")
    result = verify_token(token)
    assert not result.ok and "may not read signing keys (403)" in result.detail
    assert probes(fake_api) == [SYSTEM_PROBE]
    token.refresh_from_db()
    assert token.status == TokenStatus.ACTIVE  # a 403 is a permission problem, not invalidity


@pytest.mark.django_db
def test_pair_problem_uses_the_probe_of_the_area(fake_api):
    fake_api.add_token(TOKEN_ID, SECRET, "read_write", "ws-default")
    assert pair_problem(TOKEN_ID, SECRET, unverified_hint="x", area=Area.VIDEO) is None
    problem = pair_problem(TOKEN_ID, SECRET, unverified_hint="x", area=Area.SYSTEM)
    assert problem and "may not read signing keys (403)" in problem
    assert probes(fake_api) == [VIDEO_PROBE, SYSTEM_PROBE]


# --- the migration ---


BEFORE_AREAS = [("django_fastpix", "0002_reliability")]


@pytest.mark.django_db(transaction=True)
def test_tokens_stored_before_areas_stay_video_tokens():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(BEFORE_AREAS)
        old = executor.loader.project_state(BEFORE_AREAS).apps
        ws = old.get_model("django_fastpix", "Workspace").objects.create(name="Old", slug="old")
        old_token = old.get_model("django_fastpix", "AccessToken")
        for name, scope in (("reader", "read"), ("writer", "read_write")):
            old_token.objects.create(
                workspace=ws,
                name=name,
                token_id=f"tok_{name}_0000",
                secret_key=SECRET,
                token_id_hint=name[-4:],
                token_id_digest=f"digest-{name}",
                scope=scope,
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
    tokens = {t.name: t for t in AccessToken.objects.all()}
    assert tokens["reader"].scope_for(Area.VIDEO) == Scope.READ
    assert tokens["writer"].scope_for(Area.VIDEO) == Scope.READ_WRITE
    for token in tokens.values():
        assert token.scope_for(Area.DATA) == Scope.NONE
        assert token.scope_for(Area.SYSTEM) == Scope.NONE
        assert token.credentials().secret_key == SECRET
    assert tokens["reader"].permissions_label == "video: read only"
    workspace = Workspace.objects.get(slug="old")
    assert AccessToken.objects.usable_for(workspace, Scope.READ).count() == 2
    assert not AccessToken.objects.usable_for(workspace, Scope.READ, Area.SYSTEM).exists()
