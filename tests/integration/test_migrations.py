"""Migrations are complete and identical whatever the Django version the matrix runs."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command


@pytest.mark.django_db
@pytest.mark.parametrize("app", ["django_fastpix", "testapp"])
def test_no_missing_migrations(app: str) -> None:
    out = io.StringIO()
    # --check exits non-zero (SystemExit) when the models and migrations disagree.
    call_command("makemigrations", app, "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()
