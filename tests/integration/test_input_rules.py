"""One token-id rule (and one secret rule) at every entry point, with messages that echo nothing.

``token_id_problem`` is the rule; the service, the admin add form and ``Credentials`` must refuse
exactly what it refuses, with its message, so that a value one entry point accepts never breaks
another (a NUL that PostgreSQL cannot store, a ':' that shifts the Basic-auth split).
"""

from __future__ import annotations

import pytest

from django_fastpix.client import Credentials
from django_fastpix.client.credentials import (
    TOKEN_ID_MAX_LENGTH,
    secret_key_problem,
    token_id_problem,
)
from django_fastpix.exceptions import TokenError
from django_fastpix.models import AccessToken
from django_fastpix.services.tokens import add_token
from tests.admin.conftest import admin_url
from tests.admin.test_token_admin import add_data
from tests.conftest import SECRET

pytestmark = pytest.mark.django_db

# Ids some entry point accepted before the rule was shared.
BAD_TOKEN_IDS = {
    "colon": "tok:colon_0000_a1b2",
    "nul": "tok\x00nul_0000_a1b2",
    "control": "tok\x01ctl_0000_a1b2",
    "non-ascii": "tøk_0000_a1b2c3d4",
    "zero-width": "tok\u200b0000_a1b2",
    "too long": "t" * (TOKEN_ID_MAX_LENGTH + 1),
}
BAD_SECRETS = {
    "nul": SECRET[:10] + "\x00" + SECRET[10:],
    "control": SECRET[:10] + "\x1b" + SECRET[10:],
    "zero-width": SECRET[:10] + "\u200b" + SECRET[10:],
}


def echoes(message: str, value: str) -> bool:
    """Whether ``message`` shows the value or any 6-character piece of it."""
    return value in message or any(value[i : i + 6] in message for i in range(len(value) - 5))


@pytest.mark.parametrize("token_id", BAD_TOKEN_IDS.values(), ids=BAD_TOKEN_IDS.keys())
def test_the_service_refuses_what_the_rule_refuses(workspace, token_id):
    problem = token_id_problem(token_id)
    assert problem
    with pytest.raises(TokenError) as info:
        add_token(workspace=workspace, name="bad", token_id=token_id, secret_key=SECRET)
    assert str(info.value) == problem and not echoes(problem, token_id)
    with pytest.raises(ValueError, match="^" + problem.replace("(", r"\(") + "$"):
        Credentials(token_id, SECRET)
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize("secret", BAD_SECRETS.values(), ids=BAD_SECRETS.keys())
def test_the_service_refuses_control_characters_in_the_secret(workspace, secret):
    with pytest.raises(TokenError) as info:
        add_token(workspace=workspace, name="bad", token_id="tok_0000_a1b2c3d4", secret_key=secret)
    assert (
        str(info.value)
        == secret_key_problem(secret)
        == "The secret key contains control characters."
    )
    assert SECRET[:10] not in str(info.value) and not AccessToken.objects.exists()


@pytest.mark.parametrize("token_id", BAD_TOKEN_IDS.values(), ids=BAD_TOKEN_IDS.keys())
def test_the_admin_add_form_refuses_with_the_same_message(admin_client, workspace, token_id):
    data = add_data(workspace, token_id=token_id, save_unverified="on")
    response = admin_client.post(admin_url("accesstoken", "add"), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["token_id"] == [token_id_problem(token_id)]
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize("secret", BAD_SECRETS.values(), ids=BAD_SECRETS.keys())
def test_the_admin_add_form_refuses_control_characters_in_the_secret(
    admin_client, workspace, secret
):
    data = add_data(workspace, secret_key=secret, save_unverified="on")
    response = admin_client.post(admin_url("accesstoken", "add"), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["secret_key"] == [secret_key_problem(secret)]
    assert SECRET[:10].encode() not in response.content
    assert not AccessToken.objects.exists()
