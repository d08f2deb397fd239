"""Signing-key endpoints, with a small per-process pool of pre-generated RSA keys."""

from __future__ import annotations

import base64
import threading

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .routing import Call, Reply, Route, ok
from .state import SigningKey, Store, new_id


class _KeyPool:
    """Pre-generates a couple of 2048-bit keys so a create does not wait ~0.1 s for one.

    Every key is handed out once: keys stay distinct per create.
    """

    def __init__(self, size: int = 2) -> None:
        self._size = size
        self._keys: list[rsa.RSAPrivateKey] = []
        self._lock = threading.Lock()
        self._filling = False

    def take(self) -> rsa.RSAPrivateKey:
        """A fresh private key (pooled if one is ready)."""
        with self._lock:
            key = self._keys.pop() if self._keys else None
        if key is None:
            key = _generate()
        self.refill()
        return key

    def refill(self) -> None:
        """Top the pool up in the background."""
        with self._lock:
            if self._filling or len(self._keys) >= self._size:
                return
            self._filling = True
        threading.Thread(target=self._fill, name="fastpix-fake-rsa", daemon=True).start()

    def _fill(self) -> None:
        try:
            while True:
                with self._lock:
                    if len(self._keys) >= self._size:
                        return
                key = _generate()
                with self._lock:
                    self._keys.append(key)
        finally:
            with self._lock:
                self._filling = False


def _generate() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


KEY_POOL = _KeyPool()


def create_key(store: Store, call: Call) -> Reply:
    """POST /iam/signing-keys: the private key is returned once and never kept."""
    private = KEY_POOL.take()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = SigningKey(
        id=new_id(),
        workspace=call.workspace,
        public_key_pem=public_pem.decode(),
        seq=store.next_seq(),
    )
    store.signing_keys[key.id] = key
    data = {"id": key.id, "privateKey": base64.b64encode(pem).decode(), "createdAt": key.created_at}
    return ok(data, 201)


def list_keys(store: Store, call: Call) -> Reply:
    """GET /iam/signing-keys."""
    chunk, pagination = call.page_of(store.signing_keys.values())
    ws = call.workspace
    data = [
        {
            "id": k.id,
            "createdAt": k.created_at,
            "workspace": [{"id": ws.id, "name": ws.name, "workspaceType": "development"}],
        }
        for k in chunk
    ]
    return ok(data, pagination=pagination)


def get_key(store: Store, call: Call) -> Reply:
    """GET /iam/signing-keys/{signingKeyId}: the public key as PEM text."""
    key = store.find_key(call.workspace, call.params["signingKeyId"])
    return ok(
        {"workspaceId": key.workspace.id, "signingKeyId": key.id, "publicKey": key.public_key_pem}
    )


def delete_key(store: Store, call: Call) -> Reply:
    """DELETE /iam/signing-keys/{signingKeyId}."""
    key = store.find_key(call.workspace, call.params["signingKeyId"])
    del store.signing_keys[key.id]
    return ok()


ROUTES = [
    Route("POST", "/iam/signing-keys", create_key),
    Route("GET", "/iam/signing-keys", list_keys),
    Route("GET", "/iam/signing-keys/{signingKeyId}", get_key),
    Route("DELETE", "/iam/signing-keys/{signingKeyId}", delete_key),
]
