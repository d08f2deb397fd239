#!/usr/bin/env python3
"""Run the demo on a fresh machine: python3 example_project/demo.py

Creates example_project/.venv with the app installed, writes example_project/.env with a fresh
encryption key if there is none, migrates the SQLite database and runs the `demo` command.
Needs only Python >= 3.10 and access to PyPI.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV = HERE / ".venv"
PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def main() -> None:
    if not PYTHON.exists():
        print("Creating", VENV)
        venv.create(VENV, with_pip=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", "-e", str(ROOT)], check=True)
    env_file = HERE / ".env"
    if not env_file.exists():
        key = base64.urlsafe_b64encode(os.urandom(32)).decode()
        secret = base64.urlsafe_b64encode(os.urandom(30)).decode()
        template = (HERE / ".env.example").read_text()
        template = template.replace("FIELD_ENCRYPTION_KEY=\n", f"FIELD_ENCRYPTION_KEY={key}\n")
        template = template.replace("SECRET_KEY=change-me", f"SECRET_KEY={secret}")
        env_file.write_text(template)
        print("Wrote", env_file, "with a fresh FIELD_ENCRYPTION_KEY")
    manage = [str(PYTHON), str(HERE / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], check=True, cwd=HERE)
    subprocess.run([*manage, "demo", *sys.argv[1:]], check=True, cwd=HERE)


if __name__ == "__main__":
    main()
