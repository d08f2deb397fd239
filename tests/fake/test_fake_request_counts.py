"""Per-token and per-route request counts of the fake."""

from __future__ import annotations

from typing import Any

import requests

from django_fastpix.testing import FakeFastPix

from .conftest import Api


def test_counts_by_token_hint_and_route(fastpix_fake: FakeFastPix, make_api: Any) -> None:
    fastpix_fake.add_token("token-alpha-0001", "s1")
    fastpix_fake.add_token("token-bravo-0002", "s2", "read")
    alpha: Api = make_api(("token-alpha-0001", "s1"))
    bravo: Api = make_api(("token-bravo-0002", "s2"))
    nobody: Api = make_api(None)
    media_id = alpha.create_media()["id"]
    alpha.get(f"/on-demand/{media_id}")
    alpha.get("/on-demand")
    fastpix_fake.inject("GET /on-demand", status=503, times=1)
    assert bravo.get("/on-demand").status_code == 503  # faulted: counted, token still known
    assert bravo.get("/on-demand").status_code == 200
    assert bravo.post("/on-demand", json={}).status_code == 403
    assert make_api(("token-alpha-0001", "wrong")).get("/on-demand").status_code == 401
    assert nobody.get("/on-demand").status_code == 401

    counts = fastpix_fake.request_counts()
    assert counts.total == 8
    assert counts.by_token == {"…0001": 4, "…0002": 3, "-": 1}
    assert counts.by_route == {
        "GET /on-demand": 5,
        "POST /on-demand": 2,
        "GET /on-demand/{mediaId}": 1,
    }
    assert counts.by_token_route["…0001"] == {
        "GET /on-demand": 2,
        "POST /on-demand": 1,
        "GET /on-demand/{mediaId}": 1,
    }
    assert counts.by_token_route["…0002"] == {"GET /on-demand": 2, "POST /on-demand": 1}
    assert counts.faulted_by_route == {"GET /on-demand": 1}
    full = fastpix_fake.request_counts(hints=False)
    assert full.by_token == {"token-alpha-0001": 4, "token-bravo-0002": 3, "-": 1}
    assert counts.as_dict()["by_token"] == counts.by_token
    assert counts.lines()[:2] == [
        "requests: 8",
        "  token …0001: 4 (GET /on-demand 2, POST /on-demand 1, GET /on-demand/{mediaId} 1)",
    ]
    assert "  faulted GET /on-demand: 1" in counts.lines()
    # the secrets never reach the counts
    assert "s1" not in repr(counts.as_dict()) and "wrong" not in repr(counts.as_dict())
    fastpix_fake.clear_requests()
    assert fastpix_fake.request_counts().total == 0


def test_short_ids_show_at_most_a_quarter(fastpix_fake: FakeFastPix, make_api: Any) -> None:
    fastpix_fake.add_token("abcdefgh", "s")
    make_api(("abcdefgh", "s")).get("/on-demand")
    assert fastpix_fake.request_counts().by_token == {"…gh": 1}


def test_uploads_count_under_their_route(api: Api, fastpix_fake: FakeFastPix) -> None:
    upload = api.post("/on-demand/upload", json={"corsOrigin": "*"}).json()["data"]
    requests.put(upload["url"], data=b"video", timeout=5)
    counts = fastpix_fake.request_counts()
    assert counts.by_route == {"POST /on-demand/upload": 1, "PUT /uploads/{uploadId}": 1}
    assert counts.by_token_route["-"] == {"PUT /uploads/{uploadId}": 1}
