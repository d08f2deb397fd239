"""fastpix_media create refuses an over-long URL with a message, before storing or calling."""

from __future__ import annotations

import pytest
from django.core.management.base import CommandError

from django_fastpix.models import Media
from tests.commands.conftest import run_capturing

pytestmark = pytest.mark.django_db


def test_a_5000_character_url_is_a_clear_error_not_a_traceback(fake_token, fake_api):
    fake_token()
    url = "https://cdn.example.com/" + "a" * 5000 + ".mp4"
    _out, error = run_capturing("fastpix_media", "create", "--workspace", "prod", "--url", url)
    assert isinstance(error, CommandError)
    assert "longer than 2000 characters" in str(error)
    assert not Media.objects.exists()
    assert fake_api.requests_for("POST /on-demand") == []
