"""Transport.from_settings: read on every call, one shared transport per distinct settings."""

from __future__ import annotations

from typing import Any

from django_fastpix.client import Transport
from django_fastpix.client.transport import DEFAULT_USER_AGENT


def test_defaults(settings: Any) -> None:
    settings.FASTPIX = {}
    transport = Transport.from_settings()
    assert transport.base_url == "https://api.fastpix.com/v1"
    assert transport.timeout == (5.0, 30.0)
    assert transport.max_retries == 3
    assert (transport.backoff_base, transport.backoff_max) == (0.25, 8.0)
    assert transport.retry_after_max == 30.0
    assert transport.user_agent == DEFAULT_USER_AGENT


def test_same_settings_share_one_transport_and_session(settings: Any) -> None:
    settings.FASTPIX = {"API_BASE_URL": "http://fake.test/v1"}
    first = Transport.from_settings()
    assert Transport.from_settings() is first
    assert Transport.from_settings().session() is first.session()


def test_changed_settings_take_effect_on_the_next_call(settings: Any) -> None:
    settings.FASTPIX = {"API_BASE_URL": "http://one.test/v1", "READ_TIMEOUT": 3}
    one = Transport.from_settings()
    settings.FASTPIX = {
        "API_BASE_URL": "http://two.test/v1/",
        "READ_TIMEOUT": 4,
        "CONNECT_TIMEOUT": 1,
        "MAX_RETRIES": 0,
        "USER_AGENT": "site/1",
    }
    two = Transport.from_settings()
    assert two is not one
    assert two.base_url == "http://two.test/v1"
    assert two.timeout == (1.0, 4.0)
    assert two.max_retries == 0
    assert two.user_agent == "site/1"
    settings.FASTPIX = {"API_BASE_URL": "http://one.test/v1", "READ_TIMEOUT": 3}
    assert Transport.from_settings() is one
