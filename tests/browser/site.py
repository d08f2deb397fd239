"""The example site (example_project/) as a `runserver` subprocess against a fake FastPix.

Shared by the browser tests of the example site: the fake runs in the test process with a
read-write token, the site runs on a fresh SQLite database with that token stored, and the
fake delivers signed webhooks to it. Headless Chromium (tests/browser/conftest.py) loads its
pages; ``fetch`` asks other hosts (the fake's stream and image hosts) from the page itself.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest

from django_fastpix.testing import FakeFastPix
from tests.processes import ROOT, stop, wait_for

EXAMPLE = ROOT / "example_project"
TOKEN_ID = "tok_playback_e2e_7d1f"
TOKEN_SECRET = "sk_playback_e2e_" + secrets.token_urlsafe(12)
PASSWORD = "example-site-e2e-password"

SEED = """
import os
from django_fastpix.models import Workspace
from django_fastpix.services.tokens import add_token
from django_fastpix.services.webhooks import rotate_webhook_secret
ws, _ = Workspace.objects.get_or_create(
    slug="demo", defaults={"name": "Demo", "environment": "development"}
)
add_token(
    workspace=ws, name="browser e2e", token_id=os.environ["E2E_TOKEN_ID"],
    secret_key=os.environ["E2E_TOKEN_SECRET"], scope="read_write",
    system_scope="read_write", verified=True,
)
rotate_webhook_secret(ws, os.environ["E2E_WEBHOOK_SECRET"])
"""

# E2E_USERS: [[username, superuser?, ["app_label.codename", ...]], ...]
CREATE_USERS = """
import json, os
from django.contrib.auth.models import Permission, User
for name, superuser, perms in json.loads(os.environ["E2E_USERS"]):
    make = User.objects.create_superuser if superuser else User.objects.create_user
    user = make(name, f"{name}@example.com", os.environ["E2E_PASSWORD"])
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
"""

# fetch() from the page itself: the browser's origin, CORS and all.
FETCH = """
const url = arguments[0], done = arguments[arguments.length - 1];
fetch(url, {cache: "no-store"}).then(async (r) => {
  const buf = new Uint8Array(await r.arrayBuffer());
  const type = r.headers.get("content-type") || "";
  done({
    status: r.status,
    type: type,
    head: Array.from(buf.slice(0, 8)),
    text: type.startsWith("image/") ? "" : new TextDecoder().decode(buf).slice(0, 2000),
  });
}).catch((e) => done({status: -1, error: String(e)}));
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


@dataclass
class Site:
    url: str
    port: int
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def manage(self, *args: str, **extra: str) -> str:
        """Run `example_project/manage.py ...` (``extra``: more env); fail with its stderr."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=EXAMPLE,
            env={**self.env, **extra},
            capture_output=True,
            text=True,
            timeout=90,
        )
        if result.returncode != 0:
            pytest.fail(
                f"manage.py {args[0]} failed ({result.returncode}):\n"
                f"{result.stderr[-3000:]}\n{self.server_tail()}",
                pytrace=False,
            )
        return result.stdout

    def shell_json(self, code: str, **extra: str) -> Any:
        out = self.manage("shell", "-c", code, **extra)
        line = next((ln for ln in out.splitlines() if ln.startswith("E2E_JSON=")), None)
        assert line is not None, f"no result from manage.py shell:\n{out}"
        return json.loads(line.removeprefix("E2E_JSON="))

    def create_users(self, *users: tuple[str, bool, list[str]]) -> None:
        """Users (name, superuser?, ["app_label.codename", ...]) with the password PASSWORD."""
        self.manage("shell", "-c", CREATE_USERS, E2E_USERS=json.dumps(users), E2E_PASSWORD=PASSWORD)

    def server_tail(self) -> str:
        return f"--- runserver output (tail) ---\n{tail(self.log)}"

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")
        except OSError:
            return 0, ""


@contextmanager
def fake_fastpix(**options: Any) -> Iterator[FakeFastPix]:
    """A fake FastPix (``options``: FakeFastPix's) holding the site's read-write token."""
    with FakeFastPix(**options) as server:
        server.add_token(TOKEN_ID, TOKEN_SECRET, "read_write", "ws-default", system="read_write")
        yield server


@contextmanager
def run_site(fake: FakeFastPix, tmp_path: Path, **extra_env: str) -> Iterator[Site]:
    """The example site on a fresh SQLite database, wired to the fake, serving on a free port.

    ``extra_env``: more environment for the site (e.g. FASTPIX_UPLOAD_CHUNK_SIZE_KB).
    """
    from cryptography.fernet import Fernet

    port = free_port()
    webhook_secret = base64.b64encode(secrets.token_bytes(32)).decode()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FASTPIX_", "DJANGO_")) and key != "TASK_BACKEND"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="example_project.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'site.sqlite3'}",
        FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        SECRET_KEY=secrets.token_urlsafe(32),
        DEBUG="true",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        FASTPIX_API_BASE_URL=fake.base_url,
        FASTPIX_STREAM_BASE_URL=fake.stream_base_url,
        FASTPIX_IMAGE_BASE_URL=fake.image_base_url,
        # The real player package is not available offline: the fake answers 404 at once.
        FASTPIX_PLAYER_SCRIPT_URL=fake.origin + "/player/fastpix-player.js",
        FASTPIX_WORKSPACE="demo",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra_env)
    site = Site(f"http://127.0.0.1:{port}", port, env, tmp_path / "runserver.log")
    site.manage("migrate", "--noinput")
    site.manage(
        "shell",
        "-c",
        SEED,
        E2E_TOKEN_ID=TOKEN_ID,
        E2E_TOKEN_SECRET=TOKEN_SECRET,
        E2E_WEBHOOK_SECRET=webhook_secret,
    )
    fake.set_webhook("ws-default", f"{site.url}/fastpix/webhooks/demo/", webhook_secret)
    with site.log.open("wb") as log:
        site.proc = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=EXAMPLE,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so stop() ends it and anything it started
        )
    try:
        up = wait_for(
            lambda: (
                site.proc is not None and (site.proc.poll() is not None or site.get("/")[0] == 200)
            ),
            timeout=30,
            interval=0.2,
        )
        if not up or site.proc.poll() is not None:
            pytest.fail(f"The example site did not start.\n{site.server_tail()}", pytrace=False)
        yield site
    finally:
        stop([site.proc])


def fetch(driver: Any, url: str) -> dict[str, Any]:
    result: dict[str, Any] = driver.execute_async_script(FETCH, url)
    return result


def run_script(driver: Any, script: str) -> Any:
    return driver.execute_script(script)


def wait_until_loaded(driver: Any, old_page: Any, timeout: float = 20) -> None:
    """Wait until ``old_page`` (an element of the previous page) is gone and the next loaded."""
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, timeout)
    wait.until(ec.staleness_of(old_page))
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")


def click_and_wait(driver: Any, element: Any) -> None:
    """Click something that submits a form, and wait until the next page has loaded."""
    from selenium.webdriver.common.by import By

    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    wait_until_loaded(driver, page)


def login(driver: Any, site: Site, username: str, *, admin: bool = False) -> None:
    """Sign in on the site's own page (or the admin's), with the password PASSWORD."""
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{site.url}/admin/login/" if admin else f"{site.url}/accounts/login/")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    click_and_wait(
        driver,
        driver.find_element(By.CSS_SELECTOR, "#login-submit, input[type=submit]"),
    )
    assert "/login/" not in driver.current_url, f"{username} could not sign in"


def verified_claims(fake: FakeFastPix, token: str, playback_id: str) -> dict[str, Any]:
    """The claims of a playback ``token``, verified with the fake's copy of its signing key."""
    header = jwt.get_unverified_header(token)
    kid = header.get("kid")
    assert isinstance(kid, str), header
    assert header.get("alg") == "RS256", header
    public_pem = fake.signing_key_public_pem(kid)
    assert public_pem is not None, f"the token's kid {kid!r} is no signing key of the fake"
    unverified = jwt.decode(token, options={"verify_signature": False})
    assert unverified.get("aud") in (f"media:{playback_id}", [f"media:{playback_id}"]), unverified
    claims: dict[str, Any] = jwt.decode(
        token, public_pem, algorithms=["RS256"], audience=f"media:{playback_id}"
    )
    assert claims["exp"] > time.time(), claims
    return claims
