"""Per-area token permissions: Video, System (signing keys) and Data, as FastPix grants them."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from typing import Any

import pytest
import requests

from django_fastpix.testing import FakeFastPix
from django_fastpix.testing.__main__ import build_parser

from .conftest import Api


def _forbidden(response: requests.Response, needs: str) -> None:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == 403 and error["message"] == "forbidden"
    # The app tells a missing permission from bad credentials by this word (as WP does).
    assert "permission" in error["description"] and needs in error["description"]


def test_video_read_write_token_cannot_create_a_signing_key(
    api: Api, fastpix_fake: FakeFastPix
) -> None:
    # The default token: Video read+write, nothing else; the usual grant and the trap.
    assert fastpix_fake.store.tokens["fake-token-id"].scopes == {
        "video": "read_write",
        "system": "none",
        "data": "none",
    }
    _forbidden(api.post("/iam/signing-keys"), "System read+write")
    _forbidden(api.get("/iam/signing-keys"), "System read")
    _forbidden(api.get("/iam/signing-keys/some-key"), "System read")
    _forbidden(api.delete("/iam/signing-keys/some-key"), "System read+write")
    assert fastpix_fake.store.signing_keys == {}
    assert api.create_media()["id"]
    assert api.get("/live/streams").status_code == 200


def test_system_read_lists_keys_but_cannot_create_or_delete(
    keys_api: Api, fastpix_fake: FakeFastPix, make_api: Any
) -> None:
    key_id = keys_api.post("/iam/signing-keys").json()["data"]["id"]
    fastpix_fake.add_token("sys-ro", "s", system="read")
    reader: Api = make_api(("sys-ro", "s"))
    assert reader.get("/iam/signing-keys").status_code == 200
    assert reader.get(f"/iam/signing-keys/{key_id}").status_code == 200
    _forbidden(reader.post("/iam/signing-keys"), "System read+write")
    _forbidden(reader.delete(f"/iam/signing-keys/{key_id}"), "System read+write")
    assert key_id in fastpix_fake.store.signing_keys


def test_system_only_token_has_no_video(fastpix_fake: FakeFastPix, make_api: Any) -> None:
    fastpix_fake.add_token("sys", "s", scope="none", system="read_write")
    system: Api = make_api(("sys", "s"))
    assert system.post("/iam/signing-keys").status_code == 201
    _forbidden(system.get("/on-demand"), "Video read")
    _forbidden(system.post("/on-demand", json={}), "Video read+write")
    _forbidden(system.get("/live/streams"), "Video read")
    _forbidden(system.post("/on-demand/upload", json={}), "Video read+write")


def test_data_grants_no_api_route(fastpix_fake: FakeFastPix, make_api: Any) -> None:
    fastpix_fake.add_token("data", "s", scope="none", data="read")
    analyst: Api = make_api(("data", "s"))
    _forbidden(analyst.get("/on-demand"), "Video read")
    _forbidden(analyst.get("/iam/signing-keys"), "System read")


def test_permission_is_checked_after_credentials_and_route(
    fastpix_fake: FakeFastPix, make_api: Any
) -> None:
    fastpix_fake.add_token("none", "s", scope="none")
    nobody: Api = make_api(("none", "s"))
    assert make_api(("none", "wrong")).get("/iam/signing-keys").status_code == 401
    assert nobody.get("/no-such-route").status_code == 404
    assert nobody.request("PATCH", "/iam/signing-keys").status_code == 405
    _forbidden(nobody.get("/iam/signing-keys"), "System read")


def test_add_token_levels(fastpix_fake: FakeFastPix) -> None:
    token = fastpix_fake.add_token("t", "s", "read", system="read_write", data="read")
    assert token.scopes == {"video": "read", "system": "read_write", "data": "read"}
    assert token.scope == "read"  # the Video level, as `scope` always meant
    listed = fastpix_fake.add_token("l", "s", "video=read_write,data=read")
    assert listed.scopes == {"video": "read_write", "system": "none", "data": "read"}
    assert fastpix_fake.add_token("d", "s").scopes["system"] == "none"
    for kwargs in (
        {"scope": "write"},
        {"scope": "admin"},
        {"system": "write"},
        {"data": "all"},
        {"scope": "video=read,system=read", "system": "read"},
        {"scope": "video=read,storage=read"},
        {"scope": "video=read,video=read_write"},
        {"scope": "video"},
    ):
        with pytest.raises(ValueError):
            fastpix_fake.add_token("bad", "s", **kwargs)
    assert "bad" not in fastpix_fake.store.tokens


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("read", "read"),
        ("read_write", "read_write"),
        ("write", "read_write"),
        (
            "video=read_write,system=read_write,data=read",
            "video=read_write,system=read_write,data=read",
        ),
        ("system=write", "video=none,system=read_write,data=none"),
        (" data=read , video=read ", "video=read,system=none,data=read"),
    ],
)
def test_cli_token_scopes(scope: str, expected: str, fastpix_fake: FakeFastPix) -> None:
    [parsed] = build_parser().parse_args(["--token", f"id:secret:{scope}:ws-x"]).token
    assert parsed == ("id", "secret", expected, "ws-x")
    # What the CLI (and the management command) hands to add_token as is.
    token = fastpix_fake.add_token(*parsed)
    assert token.workspace.name == "ws-x"


@pytest.mark.parametrize(
    ("scope", "complaint"),
    [
        ("admin", "SCOPE must be"),
        ("none", "SCOPE must be"),
        ("video=admin", "the video level must be"),
        ("storage=read", "area must be one of"),
        ("video=read,video=read", "given twice"),
        ("video=read,system", "expected AREA=LEVEL"),
    ],
)
def test_cli_rejects_bad_scopes(
    scope: str, complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--token", f"id:secret:{scope}"])
    assert complaint in capsys.readouterr().err


def test_cli_help_documents_the_area_list() -> None:
    help_text = build_parser().format_help()
    assert "video=read_write,system=read_write,data=read" in " ".join(help_text.split())
    action = next(a for a in build_parser()._actions if a.dest == "token")
    assert isinstance(action, argparse.Action) and "system" in (action.help or "")


def test_cli_grants_areas_and_prints_the_playback_hosts() -> None:
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "django_fastpix.testing", "--port", "0",
            "--token", "video:s1",
            "--token", "full:s2:video=read_write,system=read_write,data=read",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip().rsplit(" ", 1)[-1]
        stream_line = proc.stdout.readline().strip()
        image_line = proc.stdout.readline().strip()
        origin = base_url.removesuffix("/v1")
        assert stream_line == f"stream base URL: {origin}/stream"
        assert image_line == f"image base URL: {origin}/images"
        keys = base_url + "/iam/signing-keys"
        assert requests.post(keys, auth=("video", "s1"), timeout=5).status_code == 403
        assert requests.post(keys, auth=("full", "s2"), timeout=5).status_code == 201
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        if proc.stdout is not None:
            proc.stdout.close()
