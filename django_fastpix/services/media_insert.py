"""The INSERT of a saved source's pending media row, written once per process.

A registered model's save costs what Django's ORM spends building a 25-column INSERT (about
half of the app's time in a save), so on PostgreSQL and SQLite the statement is built once and
only its parameters per save; on PostgreSQL the same statement also points the source's
``video_field`` at the new row. Other vendors (and a pointer in another table or database) go
through the ORM. Either way the row, its defaults and Media's save signals are those of
``Media.objects.create()``.
"""

from __future__ import annotations

import contextlib
from functools import cache, partial
from typing import Any

from django.db import IntegrityError, connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Subquery
from django.db.models.signals import post_save, pre_save

from ..models import Media, Workspace
from ..sources import MediaSource
from .statements import column, field_column, statements_usable, table, written_once


class StaleWorkspace(Exception):
    """A remembered workspace id no longer names a workspace with that slug."""


def insert_media(
    media: Media,
    slug: str | None,
    instance: models.Model,
    pointer: models.ForeignKey[Any, Any] | None,
) -> None:
    """INSERT ``media`` (for the source object ``instance``) and set ``pointer`` on its row.

    ``slug``: the workspace id on ``media`` was remembered for this slug; the INSERT checks it
    and raises ``StaleWorkspace``, writing nothing, if it no longer holds.
    """
    using = router.db_for_write(Media, instance=media)
    if statement_can_record(using, instance, pointer):
        _insert_by_statement(media, using, slug, instance, pointer)
    else:
        _insert_by_orm(media, using, slug, instance, pointer)


def video_fk(source: MediaSource, instance: models.Model) -> models.ForeignKey[Any, Any] | None:
    """The source's ``video_field`` of ``instance``'s model, if it has one."""
    if not source.video_field:
        return None
    field = instance._meta.get_field(source.video_field)
    # parse_source() lets no other kind through
    return field if isinstance(field, models.ForeignKey) else None


def statement_can_record(
    using: str, instance: models.Model, pointer: models.ForeignKey[Any, Any] | None
) -> bool:
    """Whether ``_insert_by_statement`` can do the work: a vendor whose INSERT returns the new
    id, and a pointer (if any) in the source's own table on the same database."""
    # RETURNING: PostgreSQL always, SQLite from 3.35 (Django 5.2 still runs on 3.31).
    if not statements_usable(connections[using]):
        return False
    return pointer is None or (
        pointer.model is instance._meta.concrete_model
        and router.db_for_write(type(instance), instance=instance) == using
    )


def _insert_by_statement(
    media: Media,
    using: str,
    slug: str | None,
    instance: models.Model,
    pointer: models.ForeignKey[Any, Any] | None,
) -> None:
    """The INSERT as raw SQL, the same row (and the same Media save signals) as ``save()``.

    The workspace id is selected from its own row (and the slug, when remembered), so a stale
    id inserts nothing instead of failing: no failed statement, no savepoint needed for it.
    On PostgreSQL the pointer is set by the same statement (a data-modifying CTE), so a save
    costs one statement more than an unregistered one, with no BEGIN/COMMIT in autocommit;
    SQLite, which has no such CTE, runs an UPDATE after it, in one transaction with it.
    """
    connection = connections[using]
    pointed_by_cte = pointer if connection.vendor == "postgresql" else None
    pointed_after = pointer if pointed_by_cte is None else None
    # Media's save signals, as Model.save_base() sends them (a site's receiver may adjust it).
    pre_save.send(Media, instance=media, raw=False, using=using, update_fields=None)
    params = [f.get_db_prep_save(f.pre_save(media, True), connection) for f in _media_fields()]
    params.append(media.workspace_id)
    if slug is not None:
        params.append(slug)
    object_key = (
        None if pointer is None else instance._meta.pk.get_db_prep_value(instance.pk, connection)
    )
    if pointed_by_cte is not None:
        params.append(object_key)
    sql = _insert_sql(connection, slug is not None, pointed_by_cte)
    # Two writes in autocommit: one transaction, as save() + update() had.
    needs_transaction = pointed_after is not None and not connection.in_atomic_block
    in_transaction = (
        transaction.atomic(using=using) if needs_transaction else contextlib.nullcontext()
    )
    with in_transaction, connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        if row is None:
            raise (
                StaleWorkspace(slug)
                if slug is not None
                else LookupError(f"workspace #{media.workspace_id} no longer exists")
            )
        media.pk = row[0]
        if pointed_after is not None:
            cursor.execute(_update_sql(connection, pointed_after), [media.pk, object_key])
    media._state.adding = False
    media._state.db = using
    post_save.send(Media, instance=media, created=True, update_fields=None, raw=False, using=using)


@cache
def _media_fields() -> tuple[models.Field[Any, Any], ...]:
    """Media's columns as the INSERT lists them, the workspace apart (it is selected)."""
    meta = Media._meta
    return tuple(
        f for f in meta.local_concrete_fields if f is not meta.pk and f.name != "workspace"
    )


def _insert_sql(
    connection: BaseDatabaseWrapper, checked: bool, pointer: models.ForeignKey[Any, Any] | None
) -> str:
    """The INSERT (its text depends only on these arguments, so it is built once each).

    The workspace id is selected from the workspace's own row (with its slug when ``checked``),
    so a stale id inserts nothing and returns no row. With ``pointer`` (PostgreSQL), the same
    statement points the source row's video field at the new media.
    """
    return written_once(
        ("media-insert", connection.vendor, checked, pointer),
        partial(_write_insert_sql, connection, checked, pointer),
    )


def _write_insert_sql(
    connection: BaseDatabaseWrapper, checked: bool, pointer: models.ForeignKey[Any, Any] | None
) -> str:
    media_pk = column(connection, Media._meta.pk)
    workspace = table(connection, Workspace)
    workspace_pk = f"{workspace}.{column(connection, Workspace._meta.pk)}"
    condition = f"{workspace_pk} = %s"
    if checked:
        condition += f" AND {workspace}.{field_column(connection, Workspace, 'slug')} = %s"
    fields = _media_fields()
    columns = ", ".join(
        column(connection, f) for f in (Media._meta.get_field("workspace"), *fields)
    )
    selected = ", ".join([workspace_pk] + ["%s"] * len(fields))
    # Names from the models, quoted; every value is a parameter.
    sql = (
        f"INSERT INTO {table(connection, Media)} ({columns}) "  # noqa: S608
        f"SELECT {selected} FROM {workspace} WHERE {condition} RETURNING {media_pk}"
    )
    if pointer is not None:
        site = table(connection, pointer.model)
        sql = (
            f"WITH new_media AS ({sql}), pointed AS ("  # noqa: S608
            f"UPDATE {site} SET {column(connection, pointer)} = new_media.{media_pk} "
            f"FROM new_media WHERE {site}.{column(connection, pointer.model._meta.pk)} = %s) "
            f"SELECT {media_pk} FROM new_media"
        )
    return sql


def _update_sql(connection: BaseDatabaseWrapper, pointer: models.ForeignKey[Any, Any]) -> str:
    site = table(connection, pointer.model)
    pk = column(connection, pointer.model._meta.pk)
    return f"UPDATE {site} SET {column(connection, pointer)} = %s WHERE {pk} = %s"  # noqa: S608


def _insert_by_orm(
    media: Media,
    using: str,
    slug: str | None,
    instance: models.Model,
    pointer: models.ForeignKey[Any, Any] | None,
) -> None:
    """Other vendors (or a pointer in another table or database): ``save()``, the workspace
    checked by a subquery (a stale id inserts NULL, refused at once), then the pointer's
    UPDATE, in a savepoint (the refusal is a failed statement) or a transaction of their own."""
    workspace_id = media.workspace_id
    if slug is not None:
        media.workspace_id = Subquery(
            Workspace.objects.filter(pk=workspace_id, slug=slug).order_by().values("pk")
        )
    try:
        with transaction.atomic(using=using):
            media.save(force_insert=True, using=using)
            if pointer is not None:
                type(instance)._base_manager.filter(pk=instance.pk).update(
                    **{pointer.attname: media.pk}
                )
    except IntegrityError:
        if slug is None:
            raise
        raise StaleWorkspace(slug) from None
    media.workspace_id = workspace_id  # what the check let through
