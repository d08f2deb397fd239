"""The README's "Install into your site", followed in a fresh `startproject` site.

The settings and urls snippets are taken from README.md and appended to what `django-admin
startproject` made; the key line of the README is run by bash. A missing or malformed key must
leave `check` and `fastpix_doctor` able to run and name fastpix.E001 (no traceback, no
library ImproperlyConfigured); with the key, the site passes `check --fail-level WARNING`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.commands.conftest import ROOT

README = ROOT / "README.md"


def install_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Install into your site")
    return text[start : text.index("\n## ", start + 1)]


def code_blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def snippet(first_line: str) -> str:
    (found,) = [b for b in code_blocks(install_section(), "python") if b.startswith(first_line)]
    return found


def key_line() -> str:
    (line,) = [
        line
        for block in code_blocks(install_section(), "bash")
        for line in block.splitlines()
        if "FIELD_ENCRYPTION_KEY" in line
    ]
    return line


def clean_env() -> dict[str, str]:
    """The environment of a new site: none of this suite's settings or keys leak into it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "FIELD_ENCRYPTION_KEY")
        and not k.startswith("FASTPIX_")
    }
    # `python` in the README's commands is this interpreter; the app is this checkout.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("newsite")
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite", str(path)],
        check=True,
        env=clean_env(),
        timeout=60,
    )
    with (path / "mysite" / "settings.py").open("a") as settings:
        settings.write("\n" + snippet("# settings.py"))
    with (path / "mysite" / "urls.py").open("a") as urls:
        urls.write("\n" + snippet("# urls.py"))
    return path


def manage(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=site,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str]) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output and "ImproperlyConfigured" not in output, output
    return output


def test_the_readme_says_how_to_install_before_the_first_release() -> None:
    section = install_section()
    assert "not on PyPI yet" in section
    assert "pip install /path/to/django-fastpix" in section and "pip install -e ." in section
    assert "`pip install django-fastpix` will do" in section
    settings = snippet("# settings.py")
    assert '"API_BASE_URL": env.str("FASTPIX_API_BASE_URL"' in settings
    assert 'FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=[])' in settings
    assert 'read_env(BASE_DIR / ".env")' in settings
    assert key_line().endswith(">> .env")


def test_no_key_check_and_doctor_name_e001(site: Path) -> None:
    (site / ".env").unlink(missing_ok=True)
    output = assert_clean_failure(manage(site, "check"))
    assert "fastpix.E001" in output and "FIELD_ENCRYPTION_KEY is not set" in output
    output = assert_clean_failure(manage(site, "fastpix_doctor", "--no-verify"))
    assert "[fastpix.E001]" in output


def test_a_malformed_key_is_e001_not_the_librarys_error(site: Path) -> None:
    (site / ".env").write_text("FIELD_ENCRYPTION_KEY=not-a-fernet-key\n")
    try:
        output = assert_clean_failure(manage(site, "check"))
        assert "fastpix.E001" in output and "not-a-fernet-key" not in output
        output = assert_clean_failure(manage(site, "fastpix_doctor", "--no-verify"))
        assert "[fastpix.E001]" in output
    finally:
        (site / ".env").unlink()


def test_the_readme_key_line_then_migrate_makes_a_clean_site(site: Path) -> None:
    subprocess.run(["bash", "-c", key_line()], cwd=site, env=clean_env(), check=True, timeout=60)
    assert re.fullmatch(r"FIELD_ENCRYPTION_KEY=[A-Za-z0-9_-]{43}=\n", (site / ".env").read_text())
    migrate = manage(site, "migrate", "-v0")
    assert migrate.returncode == 0, migrate.stderr
    check = manage(site, "check", "--fail-level", "WARNING")
    assert check.returncode == 0, check.stdout + check.stderr
    doctor = manage(site, "fastpix_doctor", "--no-verify")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "No workspace yet" in doctor.stdout


def test_without_the_urls_snippet_check_warns_w004(site: Path) -> None:
    (site / ".env").write_text(f"FIELD_ENCRYPTION_KEY={Fernet.generate_key().decode()}\n")
    urls = site / "mysite" / "urls.py"
    kept = urls.read_text()
    urls.write_text(kept.replace(snippet("# urls.py"), ""))
    try:
        check = manage(site, "check", "--fail-level", "WARNING")
        output = check.stdout + check.stderr
        assert check.returncode == 1 and "fastpix.W004" in output, output
        assert 'include("django_fastpix.urls")' in output
    finally:
        urls.write_text(kept)


def task_backend_snippets() -> list[str]:
    """Every django-tasks-db set-up the README shows ("Media from your models", "Running at
    scale"); each must work as written."""
    found = [
        block
        for block in code_blocks(README.read_text(encoding="utf-8"), "python")
        if '"django_tasks_db"' in block and "TASKS" in block
    ]
    assert found
    return found


@pytest.mark.parametrize("which", [0, 1])
def test_the_readmes_django_tasks_db_setup_works_and_e010_catches_half_of_it(
    site: Path, which: int
) -> None:
    (site / ".env").write_text(f"FIELD_ENCRYPTION_KEY={Fernet.generate_key().decode()}\n")
    snippets = task_backend_snippets()
    assert len(snippets) == 2, "a set-up was added or removed: update the parameters"
    readme = snippets[which]
    (site / "mysite" / "settings_tasks.py").write_text(
        "from mysite.settings import *  # noqa: F403\n" + readme
    )
    half = "\n".join(line for line in readme.splitlines() if "INSTALLED_APPS" not in line)
    (site / "mysite" / "settings_half.py").write_text(
        "from mysite.settings import *  # noqa: F403\n" + half + "\n"
    )
    check = manage(site, "check", "--settings", "mysite.settings_half")
    output = check.stdout + check.stderr
    assert check.returncode == 1 and "fastpix.E010" in output, output
    assert "'django_tasks_db' to INSTALLED_APPS" in output
    check = manage(site, "check", "--settings", "mysite.settings_tasks")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "fastpix.E010" not in check.stdout + check.stderr
    migrate = manage(site, "migrate", "-v0", "--settings", "mysite.settings_tasks")
    assert migrate.returncode == 0, migrate.stderr
    worker = manage(site, "db_worker", "--help", "--settings", "mysite.settings_tasks")
    assert worker.returncode == 0, worker.stderr


def test_the_readme_commands_table_lists_every_command_and_sub_command() -> None:
    import argparse

    from django.core.management import find_commands, load_command_class

    text = README.read_text(encoding="utf-8")
    start = text.index("## Commands")
    table = text[start : text.index("\n## ", start + 1)]
    listed: dict[str, set[str]] = {}
    for name, subs in re.findall(r"^\| `(fastpix_\w+)(?: ([\w/-]+))?` \|", table, re.M):
        listed.setdefault(name, set()).update(filter(None, subs.split("/")))
    directory = ROOT / "django_fastpix" / "management"
    commands = sorted(find_commands(str(directory)))
    assert sorted(listed) == commands
    for name in commands:
        parser = load_command_class("django_fastpix", name).create_parser("manage.py", name)
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        expected = set(actions[0].choices) if actions else set()
        assert listed[name] == expected, name
