"""Local state problems raise MediaStateError (no request), not made-up HTTP errors."""

from __future__ import annotations

import pytest

from django_fastpix.exceptions import FastPixAPIError, MediaStateError
from django_fastpix.models import Media, MediaStatus
from django_fastpix.services.media import refresh_media, retry_media_creation

pytestmark = pytest.mark.django_db


def test_refresh_before_creation_and_retry_of_a_created_media(workspace, fake_api):
    pending = Media.objects.create(workspace=workspace, source_url="https://x.example/a.mp4")
    with pytest.raises(MediaStateError, match="no FastPix id") as refused:
        refresh_media(pending)
    assert not isinstance(refused.value, FastPixAPIError)
    ready = Media.objects.create(workspace=workspace, fastpix_id="m1", status=MediaStatus.READY)
    with pytest.raises(MediaStateError, match="already exists"):
        retry_media_creation(ready)
    deleted = Media.objects.create(workspace=workspace, status=MediaStatus.DELETED)
    with pytest.raises(MediaStateError, match="nothing to retry"):
        retry_media_creation(deleted)
    assert fake_api.requests == []
