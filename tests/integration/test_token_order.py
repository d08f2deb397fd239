"""One token order: the per-call pick and ``AccessToken.objects.usable_for`` rank alike."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_fastpix.models import AccessToken
from django_fastpix.scopes import Scope
from django_fastpix.services.api import pick_token

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("scope", [Scope.READ, Scope.READ_WRITE])
def test_pick_order_equals_usable_for(make_token, workspace, scope):
    now = timezone.now()
    verified = [None, now - timedelta(days=2), None, now, now - timedelta(hours=1), None]
    for n, when in enumerate(verified):
        token = make_token(scope=Scope.READ if n % 2 else Scope.READ_WRITE)
        AccessToken.objects.filter(pk=token.pk).update(last_verified_at=when)
    expected = [t.pk for t in AccessToken.objects.usable_for(workspace, scope)]
    picked: list[int] = []
    while len(picked) < len(expected):
        picked.append(pick_token(workspace, scope, exclude=set(picked)).pk)
    assert picked == expected
    assert len(expected) == (6 if scope == Scope.READ else 3)
