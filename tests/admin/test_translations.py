"""The admin's texts are translatable: extracted by makemessages, shown in the active language.

Nothing is written into the repository: makemessages runs in a temporary copy of the app, and
the French catalogue of the second test is compiled into a temporary LOCALE_PATHS directory.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import translation

import django_fastpix
from tests.admin.conftest import action_post, admin_url, confirm_post, messages_of

APP_DIR = Path(django_fastpix.__file__).parent

REVOKE_INTRO_ONE = (
    "This token will never be used again, by any process, from the moment you confirm:"
)
REVOKE_INTRO_MANY = (
    "These %(count)s tokens will never be used again, by any process, from the moment you confirm:"
)


def _run(*args: str, cwd: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{args[:4]} failed:\n{result.stdout}\n{result.stderr}"


def _entries(po: str) -> list[dict[str, str]]:
    """The catalogue's entries, each as its references, flags, msgid and msgid_plural."""
    entries = []
    for block in po.split("\n\n"):
        entry = {"refs": "", "flags": "", "msgid": "", "msgid_plural": ""}
        for line in block.splitlines():
            if line.startswith("#:"):
                entry["refs"] += line[2:]
            elif line.startswith("#,"):
                entry["flags"] += line[2:]
            elif match := re.match(r'(msgid|msgid_plural) "(.*)"$', line):
                entry[match[1]] = match[2].replace('\\"', '"')
        if entry["msgid"]:
            entries.append(entry)
    return entries


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, str]]:
    """``makemessages -l fr`` run over a temporary copy of the app."""
    copy = tmp_path_factory.mktemp("makemessages") / "django_fastpix"
    shutil.copytree(APP_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "locale"))
    (copy / "locale").mkdir()
    # -I: nothing of the copied app on sys.path ahead of the standard library.
    _run(sys.executable, "-I", "-m", "django", "makemessages", "-l", "fr", "--no-wrap", cwd=copy)
    po = copy / "locale" / "fr" / "LC_MESSAGES" / "django.po"
    # The generated catalogue is well formed, placeholders included.
    _run("msgfmt", "--check", "-o", os.devnull, str(po), cwd=copy)
    return _entries(po.read_text(encoding="utf-8"))


def _find(catalogue: list[dict[str, str]], msgid: str) -> dict[str, str]:
    found = [entry for entry in catalogue if entry["msgid"] == msgid]
    assert found, f"not in the catalogue: {msgid!r}"
    return found[0]


@pytest.mark.parametrize(
    ("msgid", "where"),
    [
        # action descriptions
        ("Revoke (irreversible)…", "admin/tokens.py"),
        ("Replay (process again)", "admin/webhooks.py"),
        ("Delete in FastPix…", "admin/media.py"),
        (
            "Rotate (new key; old keys stay valid until their tokens expire)",
            "admin/signing_keys.py",
        ),
        # message_user texts, with named placeholders
        ("%(token)s: revoked.", "admin/tokens.py"),
        ("%(media)s: refreshed (status: %(status)s).", "admin/media.py"),
        ("%(event)s: replayed (%(outcome)s).", "admin/webhooks.py"),
        ("%(key)s: revoked and deleted in FastPix.", "admin/signing_keys.py"),
        # column, fieldset, form label and help text
        ("active tokens", "admin/workspaces.py"),
        ("Credentials", "admin/tokens.py"),
        ("Save without verifying", "admin/forms.py"),
        ("System permission", "admin/forms.py"),
        ("Recorded with the revoke and shown on the key's page.", "admin/signing_key_forms.py"),
        ("Recorded with the status change and shown on the token's page.", "admin/forms.py"),
        # form errors
        ("Workspace “%(workspace)s” already holds a token ending …%(hint)s.", "admin/forms.py"),
        ("The signing secret is empty.", "admin/forms.py"),
        # confirmation pages built in Python
        ("Revoke access tokens", "admin/tokens.py"),
        ("Yes, delete in FastPix", "admin/media.py"),
        ("Create a playback signing key", "admin/signing_keys.py"),
        # templates
        ("Webhook URL for FastPix", "templates/admin/django_fastpix/workspace/change_form.html"),
        (
            "No webhook URL yet: include %(urls)s in the site's URLconf (URL name %(name)s) to "
            "receive FastPix events for this workspace.",
            "templates/admin/django_fastpix/workspace/change_form.html",
        ),
    ],
)
def test_makemessages_extracts_the_admin_texts(catalogue, msgid, where):
    entry = _find(catalogue, msgid)
    assert where in entry["refs"]
    if "%(" in msgid:
        assert "python-format" in entry["flags"]


def test_counted_texts_have_plural_forms(catalogue):
    assert _find(catalogue, REVOKE_INTRO_ONE)["msgid_plural"] == REVOKE_INTRO_MANY
    deleted = _find(catalogue, "Deleted %(count)s signing key in FastPix.")
    assert deleted["msgid_plural"] == "Deleted %(count)s signing keys in FastPix."
    media = _find(catalogue, "This cannot be undone: players using it stop working.")
    assert media["msgid_plural"] == "This cannot be undone: players using them stop working."


def test_no_admin_text_is_built_with_an_f_string_or_format(catalogue):
    admin = [e for e in catalogue if "admin/" in e["refs"]]
    assert len(admin) > 50
    # An f-string cannot be marked at all; a "{}" placeholder would reach translators raw.
    assert [e["msgid"] for e in admin if "{" in e["msgid"] + e["msgid_plural"]] == []


FRENCH_PO = r"""
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=2; plural=(n > 1);\n"

msgid "Revoke (irreversible)…"
msgstr "Révoquer (irréversible)…"

msgid "Revoke access tokens"
msgstr "Révoquer des jetons"

#, python-format
msgid "{one}"
msgid_plural "{many}"
msgstr[0] ""
"Ce jeton ne sera plus jamais utilisé, par aucun processus, dès votre "
"confirmation :"
msgstr[1] ""
"Ces %(count)s jetons ne seront plus jamais utilisés, par aucun processus, dès "
"votre confirmation :"

msgid "Yes, revoke"
msgstr "Oui, révoquer"

#, python-format
msgid "%(token)s: revoked."
msgstr "%(token)s : révoqué."
""".replace("{one}", REVOKE_INTRO_ONE).replace("{many}", REVOKE_INTRO_MANY)


@pytest.fixture
def french(tmp_path, settings):
    """A small French catalogue, compiled into a temporary LOCALE_PATHS entry, active."""
    messages = tmp_path / "locale" / "fr" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    (messages / "django.po").write_text(FRENCH_PO, encoding="utf-8")
    _run("msgfmt", "--check", "-o", "django.mo", "django.po", cwd=messages)
    # Changing these settings resets Django's translation caches, now and on teardown.
    settings.LOCALE_PATHS = [str(tmp_path / "locale")]
    settings.LANGUAGE_CODE = "fr"
    with translation.override("fr"):
        yield


@pytest.mark.django_db
def test_admin_pages_show_the_active_translation(french, admin_client, make_token):
    token = make_token(name="leaky")
    other = make_token(name="other")
    url = admin_url("accesstoken", "changelist")

    changelist = admin_client.get(url).content.decode()
    assert "Révoquer (irréversible)…" in changelist  # the action's description

    one = admin_client.post(url, action_post("revoke_tokens", [token.pk])).content.decode()
    assert "Révoquer des jetons" in one and 'value="Oui, révoquer"' in one
    assert "Ce jeton ne sera plus jamais utilisé" in one
    assert "Revoke access tokens" not in one

    two = admin_client.post(url, action_post("revoke_tokens", [token.pk, other.pk]))
    assert "Ces 2 jetons ne seront plus jamais utilisés" in two.content.decode()

    done = admin_client.post(url, confirm_post("revoke_tokens", [token.pk], reason="leaked"))
    assert messages_of(done) == [("success", f"{token} : révoqué.")]


@pytest.mark.django_db
def test_english_stays_the_default(admin_client, make_token):
    token = make_token(name="leaky")
    url = admin_url("accesstoken", "changelist")
    page = admin_client.post(url, action_post("revoke_tokens", [token.pk])).content.decode()
    assert "Revoke access tokens" in page and REVOKE_INTRO_ONE in page
