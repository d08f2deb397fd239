"""statements.py: the hot-path INSERT and UPDATE written once do what ``save()`` does.

Each test runs the statement path and the ORM path (``save()``) on twin objects and compares
the rows, the signals and the errors; and proves the statement path builds no ORM statement.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Value
from django.db.models.signals import post_save, pre_save
from django.db.models.sql.compiler import SQLInsertCompiler, SQLUpdateCompiler
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_fastpix.models import Media, MediaStatus, WebhookEvent, WebhookOutcome, Workspace
from django_fastpix.services import statements

pytestmark = pytest.mark.django_db


@pytest.fixture
def signals_seen() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every pre_save/post_save sent for WebhookEvent and Media: (signal, kwargs but the
    instance, whose pk is compared apart)."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def recorder(name: str) -> Any:
        def receive(sender: Any, instance: Any, **kwargs: Any) -> None:
            kwargs.pop("signal")
            seen.append((name, {"sender": sender, "pk": instance.pk, **kwargs}))

        return receive

    pre, post = recorder("pre_save"), recorder("post_save")
    for model in (WebhookEvent, Media):
        pre_save.connect(pre, sender=model, weak=False, dispatch_uid=f"t-pre-{model.__name__}")
        post_save.connect(post, sender=model, weak=False, dispatch_uid=f"t-post-{model.__name__}")
    yield seen
    for model in (WebhookEvent, Media):
        pre_save.disconnect(sender=model, dispatch_uid=f"t-pre-{model.__name__}")
        post_save.disconnect(sender=model, dispatch_uid=f"t-post-{model.__name__}")


def refuse_orm_statements(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ORM's INSERT and UPDATE builders fail from now on: what passes built none."""

    def refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"the ORM built a statement: {type(self).__name__}")

    monkeypatch.setattr(SQLInsertCompiler, "as_sql", refuse)
    monkeypatch.setattr(SQLUpdateCompiler, "as_sql", refuse)


OCCURRED = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=dt_timezone.utc)


def event(workspace: Workspace, event_id: str) -> WebhookEvent:
    return WebhookEvent(
        workspace=workspace,
        event_id=event_id,
        type="video.media.ready",
        object_type="media",
        object_id="m-1",
        payload={"type": "video.media.ready", "data": {"nested": [1, "two", None]}},
        occurred_at=OCCURRED,
    )


def comparable(row: WebhookEvent) -> dict[str, Any]:
    values = {f.attname: getattr(row, f.attname) for f in WebhookEvent._meta.concrete_fields}
    for name in ("id", "event_id", "received_at"):
        values.pop(name)
    return values


def test_insert_stores_what_save_stores(
    workspace: Workspace,
    signals_seen: list[tuple[str, dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    by_orm = event(workspace, "by-orm")
    by_orm.save(force_insert=True)
    orm_signals = list(signals_seen)
    signals_seen.clear()

    fast = event(workspace, "by-statement")
    before = timezone.now()
    refuse_orm_statements(monkeypatch)
    statements.insert(fast)
    monkeypatch.undo()

    assert fast.pk is not None and fast.pk != by_orm.pk
    assert not fast._state.adding and fast._state.db == "default"
    assert fast.received_at is not None and fast.received_at >= before  # auto_now_add
    stored = WebhookEvent.objects.get(pk=fast.pk)
    assert comparable(stored) == comparable(WebhookEvent.objects.get(pk=by_orm.pk))
    assert stored.outcome == WebhookOutcome.PENDING and stored.deliveries == 1  # defaults
    assert stored.received_at == fast.received_at
    # The same signals with the same arguments, the new pk known after the INSERT only.
    assert [(name, {**kw, "pk": None}) for name, kw in orm_signals] == [
        (name, {**kw, "pk": None}) for name, kw in signals_seen
    ]
    assert [kw["pk"] for _, kw in signals_seen] == [None, fast.pk]


def test_insert_of_a_stored_event_id_raises_integrity_error(workspace: Workspace) -> None:
    statements.insert(event(workspace, "twice"))
    with pytest.raises(IntegrityError), transaction.atomic():
        statements.insert(event(workspace, "twice"))
    assert WebhookEvent.objects.filter(event_id="twice").count() == 1


def test_insert_ignoring_conflicts_inserts_nothing_and_fails_nothing(
    workspace: Workspace, signals_seen: list[tuple[str, dict[str, Any]]]
) -> None:
    assert statements.insert(event(workspace, "once"), ignore_conflicts=True)
    signals_seen.clear()
    with transaction.atomic():
        again = event(workspace, "once")
        assert not statements.insert(again, ignore_conflicts=True)
        # No failed statement: the transaction goes on (PostgreSQL would refuse otherwise).
        assert WebhookEvent.objects.filter(event_id="once").count() == 1
    assert again.pk is None and again._state.adding
    assert [name for name, _ in signals_seen] == ["pre_save"]  # no post_save: nothing saved


def test_insert_writes_its_statement_once(workspace: Workspace) -> None:
    statements._SQL.clear()
    for n in range(3):
        statements.insert(event(workspace, f"e{n}"))
    assert [key[0] for key in statements._SQL] == ["insert"]
    assert WebhookEvent.objects.filter(workspace=workspace).count() == 3


def test_insert_with_an_expression_takes_the_orm(workspace: Workspace) -> None:
    """A value the statement path could not send as a parameter goes through save()."""
    row = event(workspace, "expression")
    row.deliveries = Value(3)  # type: ignore[assignment]
    statements.insert(row)
    assert WebhookEvent.objects.get(pk=row.pk).deliveries == 3


def test_update_fields_writes_only_those_fields(
    workspace: Workspace, signals_seen: list[tuple[str, dict[str, Any]]]
) -> None:
    twin_orm = Media.objects.create(workspace=workspace, fastpix_id="orm", title="a")
    twin_fast = Media.objects.create(workspace=workspace, fastpix_id="fast", title="a")
    signals_seen.clear()
    for media in (twin_orm, twin_fast):
        # Another writer changed the title meanwhile: a field not named is not written back.
        Media.objects.filter(pk=media.pk).update(title="theirs")
        media.status = MediaStatus.READY
        media.duration = 12.5
        media.title = "stale, not to be written"
    old_updated = twin_fast.updated_at

    twin_orm.save(update_fields=["status", "duration", "updated_at"])
    orm_signals = list(signals_seen)
    signals_seen.clear()
    statements.update_fields(twin_fast, ["status", "duration", "updated_at"])

    fast = Media.objects.get(pk=twin_fast.pk)
    assert (fast.status, fast.duration, fast.title) == (MediaStatus.READY, 12.5, "theirs")
    assert fast.updated_at > old_updated and fast.updated_at == twin_fast.updated_at  # auto_now
    orm = Media.objects.get(pk=twin_orm.pk)
    assert (orm.status, orm.duration, orm.title) == (fast.status, fast.duration, fast.title)
    assert [(n, {**kw, "pk": None}) for n, kw in orm_signals] == [
        (n, {**kw, "pk": None}) for n, kw in signals_seen
    ]
    assert signals_seen[0][1]["update_fields"] == frozenset({"status", "duration", "updated_at"})


def test_update_fields_builds_no_orm_statement(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    media = Media.objects.create(workspace=workspace, fastpix_id="m")
    refuse_orm_statements(monkeypatch)
    media.error = "x"
    statements.update_fields(media, ["error"])
    assert Media.objects.get(pk=media.pk).error == "x"


def test_update_fields_of_a_deleted_row_fails_as_save_does(workspace: Workspace) -> None:
    media = Media.objects.create(workspace=workspace, fastpix_id="gone")
    Media.objects.filter(pk=media.pk).delete()
    media.title = "late"
    with pytest.raises(DatabaseError, match="did not affect any rows"), transaction.atomic():
        media.save(update_fields=["title"])
    with pytest.raises(DatabaseError, match="did not affect any rows"), transaction.atomic():
        statements.update_fields(media, ["title"])


def test_update_fields_with_an_expression_takes_the_orm(workspace: Workspace) -> None:
    stored = WebhookEvent.objects.create(
        workspace=workspace, event_id="e", type="t", payload={}, deliveries=2
    )
    stored.deliveries = F("deliveries") + 1  # type: ignore[assignment]
    statements.update_fields(stored, ["deliveries"])
    assert WebhookEvent.objects.get(pk=stored.pk).deliveries == 3


def test_other_vendors_take_the_orm(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statements, "VENDORS", frozenset())
    statements._SQL.clear()
    row = event(workspace, "orm-vendor")
    statements.insert(row)
    row.outcome = WebhookOutcome.PROCESSED
    statements.update_fields(row, ["outcome"])
    assert WebhookEvent.objects.get(pk=row.pk).outcome == WebhookOutcome.PROCESSED
    assert statements._SQL == {}


def test_rows_apply_the_fields_converters(workspace: Workspace) -> None:
    """A read through rows() gives what the ORM gives: the secret decrypted, times aware
    datetimes (SQLite returns text), JSON decoded; extra columns become attributes."""
    workspace.webhook_secret = "c2VjcmV0LXNlY3JldA=="
    workspace.save()
    media = Media.objects.create(workspace=workspace, fastpix_id="m", metadata={"k": [1]})
    workspaces = statements.table(connection, Workspace)
    (found,) = statements.rows(
        Workspace,
        "default",
        f"SELECT {statements.columns_of(connection, Workspace)}, 1 + 1 AS two "
        f"FROM {workspaces} WHERE id = %s",
        [workspace.pk],
        ["two"],
    )
    assert str(found.webhook_secret) == "c2VjcmV0LXNlY3JldA=="
    assert found.two == 2  # type: ignore[attr-defined]
    expected = Workspace.objects.get(pk=workspace.pk)
    assert {f.attname: getattr(found, f.attname) for f in Workspace._meta.concrete_fields} == {
        f.attname: getattr(expected, f.attname) for f in Workspace._meta.concrete_fields
    }
    (read,) = statements.rows(
        Media,
        "default",
        f"SELECT {statements.columns_of(connection, Media)} "
        f"FROM {statements.table(connection, Media)} WHERE id = %s",
        [media.pk],
    )
    stored = Media.objects.get(pk=media.pk)
    assert read.created_at == stored.created_at and read.created_at.tzinfo is not None
    assert read.metadata == {"k": [1]} and read.reference == stored.reference
    assert not read._state.adding and read._state.db == "default"


def test_insert_many_is_one_statement_for_a_sync_page(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """50 media rows (24 columns each: 1,200 parameters, over Django 5.2's 999 on SQLite) go in
    one INSERT that returns their ids in order; the rows are what bulk_create stores.
    (On PostgreSQL that INSERT is bulk_create's own.)"""
    rows = [
        Media(workspace=workspace, fastpix_id=f"m{n:02d}", title=f"t{n}", metadata={"n": n})
        for n in range(50)
    ]
    twins = [
        Media(workspace=workspace, fastpix_id=f"b{n:02d}", title=f"t{n}", metadata={"n": n})
        for n in range(50)
    ]
    Media.objects.bulk_create(twins)
    if connection.vendor == "sqlite":
        refuse_orm_statements(monkeypatch)  # PostgreSQL: Django's own one-statement UNNEST
    with CaptureQueriesContext(connection) as ctx:
        statements.insert_many(rows)
    monkeypatch.undo()
    assert len(ctx.captured_queries) == 1
    by_id = {m.fastpix_id: m for m in Media.objects.filter(workspace=workspace)}
    for row, twin in zip(rows, twins, strict=True):
        stored = by_id[row.fastpix_id]
        assert row.pk == stored.pk and not row._state.adding and row._state.db == "default"
        assert row.created_at is not None and stored.created_at == row.created_at
        twin_stored = by_id[twin.fastpix_id]
        assert (stored.title, stored.metadata, stored.status, stored.workspace_id) == (
            twin_stored.title,
            twin_stored.metadata,
            twin_stored.status,
            twin_stored.workspace_id,
        )


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite's parameter limit; PostgreSQL uses bulk_create"
)
def test_insert_many_splits_at_the_parameter_limit(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(statements, "parameter_limit", lambda connection: 60)  # 2 rows each
    rows = [Media(workspace=workspace, fastpix_id=f"s{n}") for n in range(5)]
    with CaptureQueriesContext(connection) as ctx:
        statements.insert_many(rows)
    assert len(ctx.captured_queries) == 3
    assert sorted(Media.objects.values_list("pk", flat=True)) == sorted(r.pk for r in rows)


@pytest.mark.parametrize("write", ["save", "statement"])
def test_a_failed_write_marks_the_transaction_for_rollback(
    workspace: Workspace, write: str
) -> None:
    """As save() does: an error caught inside atomic() still rolls the block back."""
    media = Media.objects.create(workspace=workspace, fastpix_id="gone")
    Media.objects.filter(pk=media.pk).delete()
    media.title = "late"
    with transaction.atomic():
        other = Media.objects.create(workspace=workspace, fastpix_id="kept?")
        try:
            if write == "save":
                media.save(update_fields=["title"])
            else:
                statements.update_fields(media, ["title"])
        except DatabaseError:
            pass
        assert transaction.get_connection().needs_rollback
        transaction.set_rollback(False)  # what a caller must do to keep ``other``
    assert Media.objects.filter(pk=other.pk).exists()


def test_update_fields_of_no_field_writes_nothing(
    workspace: Workspace, signals_seen: list[tuple[str, dict[str, Any]]]
) -> None:
    media = Media.objects.create(workspace=workspace, fastpix_id="m")
    signals_seen.clear()
    with CaptureQueriesContext(connection) as ctx:
        statements.update_fields(media, [])
    assert ctx.captured_queries == [] and signals_seen == []


def test_update_fields_of_an_unknown_name_fails_as_save_does(workspace: Workspace) -> None:
    media = Media.objects.create(workspace=workspace, fastpix_id="m")
    with pytest.raises(ValueError) as by_save:
        media.save(update_fields=["no_such_field"])
    with pytest.raises(ValueError) as by_statement:
        statements.update_fields(media, ["no_such_field"])
    assert str(by_statement.value) == str(by_save.value)


def test_update_fields_names_a_column_once_by_name_or_attname(workspace: Workspace) -> None:
    media = Media.objects.create(workspace=workspace, fastpix_id="m")
    with CaptureQueriesContext(connection) as ctx:
        statements.update_fields(media, ["workspace", "workspace_id", "title"])
    (update,) = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("UPDATE")]
    assert update.count("workspace_id") == 1
