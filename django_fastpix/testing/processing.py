"""The media state machine: Created -> Processing -> Ready | Failed, on a timer or by hand."""

from __future__ import annotations

import heapq
import threading
import time
import traceback

from .state import Media, Store, new_id, now_iso

TERMINAL = ("Ready", "Failed")


class Processor:
    """Moves media through processing, either on a background timer or via `advance()`."""

    def __init__(self, store: Store, errors: list[str]) -> None:
        self.store = store
        self.errors = errors
        self.processing_delay = 0.0
        self.auto_advance = True
        self._heap: list[tuple[float, int, str]] = []
        self._counter = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the timer thread."""
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, name="fastpix-fake-processing", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the timer thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def clear(self) -> None:
        """Forget scheduled transitions."""
        with self._cond:
            self._heap.clear()

    def media_created(self, media: Media) -> None:
        """Schedule a new media's processing when auto-advance is on."""
        if not self.auto_advance:
            return
        now = time.monotonic()
        with self._cond:
            # Processing starts at once; it finishes after processing_delay.
            for due in (now, now + max(self.processing_delay, 0.0)):
                self._counter += 1
                heapq.heappush(self._heap, (due, self._counter, media.id))
            self._cond.notify_all()

    def advance(self, media_id: str | None = None) -> list[str]:
        """Step one media (or every unfinished one) a single state forward; return the ids moved."""
        moved: list[str] = []
        with self.store.lock:
            if media_id is None:
                targets = list(self.store.media.values())
            else:
                one = self.store.media.get(media_id)
                targets = [one] if one is not None else []
            for media in targets:
                if media.status not in TERMINAL:
                    self._step(media)
                    moved.append(media.id)
        return moved

    def finish(self, media_id: str | None = None) -> None:
        """Advance until the media (or every media) reaches Ready or Failed."""
        while self.advance(media_id):
            pass

    def _step(self, media: Media) -> None:
        store = self.store
        if media.status != "Processing":
            media.status = "Processing"
            media.updated_at = now_iso()
            return
        media.updated_at = now_iso()
        if media.will_fail:
            media.status = "Failed"
            store.emit(
                "video.media.failed",
                media.workspace,
                "media",
                media.id,
                store.media_json(media),
                "failed",
            )
            return
        media.status = "Ready"
        media.duration_seconds = store.media_duration
        media.tracks = [
            {
                "id": new_id(),
                "type": "video",
                "width": 1920,
                "height": 1080,
                "frameRate": "30/1",
                "status": "available",
            },
            {
                "id": new_id(),
                "type": "audio",
                "status": "available",
                "languageName": "English",
                "languageCode": "en",
            },
        ]
        store.emit(
            "video.media.ready",
            media.workspace,
            "media",
            media.id,
            store.media_json(media),
            "ready",
        )

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (
                    not self._heap or self._heap[0][0] > time.monotonic()
                ):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._stopping:
                    return
                _, _, media_id = heapq.heappop(self._heap)
            with self.store.lock:
                media = self.store.media.get(media_id)
                if media is None or media.status in TERMINAL:
                    continue
                # The first entry starts processing; the second one finishes it.
                try:
                    self._step(media)
                except Exception:  # the timer thread must outlive a bug in one step
                    self.errors.append(traceback.format_exc())
