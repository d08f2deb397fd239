"""Sphinx configuration of the django-fastpix documentation (``tox -e docs``)."""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

HERE = Path(__file__).resolve().parent
# docs/ for the settings module, docs/_ext for the local extension, the repository root for
# django_fastpix when it is not installed (tox installs it; a bare checkout works too).
sys.path[:0] = [str(HERE), str(HERE / "_ext"), str(HERE.parent)]

os.environ["DJANGO_SETTINGS_MODULE"] = "docs_settings"

import django  # noqa: E402

django.setup()

project = "django-fastpix"
author = "django-fastpix developers"
copyright = "django-fastpix developers"
try:
    release = package_version("django-fastpix")
except PackageNotFoundError:
    release = "dev"
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
    "fastpix_docs",
]

exclude_patterns = ["_build", ".gitignore", "docs_settings.py"]
root_doc = "index"
default_role = "code"  # `single backticks` are code, as in the project's docstrings

html_theme = "furo"
html_title = f"django-fastpix {release}"

# Autodoc: signatures as written (with their types), members in source order.
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
# Django's docstrings (Model.save…) are not this app's to publish.
autodoc_inherit_docstrings = False
autodoc_default_options: dict[str, object] = {}
# Type hints name Django and third-party classes; they are shown, not linked.
nitpicky = False

# Doctests run against the docs settings: an in-memory database migrated once per build.
doctest_global_setup = """
from django.core.management import call_command
from django.db import connection

if "django_fastpix_workspace" not in connection.introspection.table_names():
    call_command("migrate", verbosity=0, interactive=False)
"""
