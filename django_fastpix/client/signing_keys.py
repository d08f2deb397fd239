"""Signing-key endpoints (``/iam/signing-keys``) for private playback JWTs."""

from __future__ import annotations

from collections.abc import Iterator

from ..scopes import Area, Scope
from .base import BaseClient, IdempotencyKey, list_params, requires, segment
from .pagination import MAX_PAGE_SIZE, iter_items, iter_pages
from .types import Page, SigningKey


class SigningKeyEndpoints(BaseClient):
    """Create, list, read and delete the workspace's playback signing keys."""

    @requires(Scope.READ_WRITE, Area.SYSTEM)
    def create_signing_key(self, *, idempotency_key: IdempotencyKey = None) -> SigningKey:
        """POST /iam/signing-keys: the PEM private key is returned this once only."""
        envelope = self._request(
            "POST", "/iam/signing-keys", json={}, idempotency_key=idempotency_key
        )
        return SigningKey.from_api(self._data(envelope, "signing key"))

    @requires(Scope.READ, Area.SYSTEM)
    def list_signing_keys(self, limit: int = 10, offset: int = 1) -> Page[SigningKey]:
        """GET /iam/signing-keys: one page of key ids and creation times."""
        envelope = self._request("GET", "/iam/signing-keys", params=list_params(limit, offset))
        return Page.from_envelope(envelope, SigningKey.from_api, limit=limit, offset=offset)

    @requires(Scope.READ, Area.SYSTEM)
    def iter_signing_keys(self, page_size: int = MAX_PAGE_SIZE) -> Iterator[SigningKey]:
        """Every signing key, across pages."""
        pages = iter_pages(lambda limit, offset: self.list_signing_keys(limit, offset), page_size)
        return iter_items(pages)

    @requires(Scope.READ, Area.SYSTEM)
    def get_signing_key(self, signing_key_id: str) -> SigningKey:
        """GET /iam/signing-keys/{id}: the workspace id and the public key PEM."""
        path = f"/iam/signing-keys/{segment(signing_key_id, 'signing key id')}"
        return SigningKey.from_api(self._data(self._request("GET", path), "signing key"))

    @requires(Scope.READ_WRITE, Area.SYSTEM)
    def delete_signing_key(self, signing_key_id: str) -> None:
        """DELETE /iam/signing-keys/{id}: every token signed with it stops working at once."""
        path = f"/iam/signing-keys/{segment(signing_key_id, 'signing key id')}"
        self._request("DELETE", path)
