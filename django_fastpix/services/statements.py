"""SQL for the hot paths, written once per process from the models' own metadata.

Django's ORM spends 0.2-0.5 ms building each statement, more than PostgreSQL takes to run one
on loopback, and that was most of a webhook delivery's cost. The statements FastPix waits for
are therefore written here once per database vendor, from the models' table and column names
(quoted; every value a parameter), and run with only their parameters. Rows come back as model
instances with each field's own converters applied, as the ORM applies them (decryption
included); writes send the same ``pre_save``/``post_save`` signals, with the same arguments,
as ``save()``, and an error marks the surrounding ``atomic()`` for rollback as ``save()`` does.
Models with parents (multi-table inheritance) or proxies take the ORM.

PostgreSQL and SQLite are the vendors this app supports; on any other the callers keep the ORM.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from django.core.exceptions import FieldDoesNotExist
from django.db import DatabaseError, connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.signals import post_save, pre_save

M = TypeVar("M", bound=models.Model)

# Vendors whose INSERT returns the new id (SQLite from 3.35; see ``statements_usable``).
VENDORS = frozenset({"postgresql", "sqlite"})

_SQL: dict[tuple[Any, ...], str] = {}


def statements_usable(connection: BaseDatabaseWrapper) -> bool:
    """Whether this module's statements run on ``connection`` (else: the ORM)."""
    return connection.vendor in VENDORS and connection.features.can_return_columns_from_insert


def written_once(key: tuple[Any, ...], write: Callable[[], str]) -> str:
    """The SQL for ``key`` (which must name everything its text depends on), built once."""
    sql = _SQL.get(key)
    if sql is None:
        sql = _SQL[key] = write()
    return sql


def column(connection: BaseDatabaseWrapper, field: Any) -> str:
    """A concrete field's column, quoted for ``connection``."""
    assert field.column, field
    return str(connection.ops.quote_name(field.column))


def field_column(connection: BaseDatabaseWrapper, model: type[models.Model], name: str) -> str:
    """The column of ``model``'s field ``name``, quoted for ``connection``."""
    return column(connection, model._meta.get_field(name))


def table(connection: BaseDatabaseWrapper, model: type[models.Model]) -> str:
    return str(connection.ops.quote_name(model._meta.db_table))


def columns_of(connection: BaseDatabaseWrapper, model: type[models.Model]) -> str:
    """Every column of ``model``, named (never ``*``: a column a later migration adds would
    change the result of a statement PostgreSQL has prepared, which it then refuses to run)."""
    name = table(connection, model)
    return ", ".join(f"{name}.{column(connection, f)}" for f in model._meta.concrete_fields)


def placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def for_update(connection: BaseDatabaseWrapper) -> str:
    """`` FOR UPDATE`` where the database locks rows (SQLite locks the whole file instead)."""
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def rows(
    model: type[M], using: str, sql: str, params: Sequence[Any], extra: Sequence[str] = ()
) -> list[M]:
    """The instances a ``SELECT columns_of(model), <extra columns>`` returns, each extra column
    set as the attribute it is named by. Each field's converters run as in the ORM (decryption
    included); ``raw()`` would do the same, but it maps the columns afresh for every query."""
    connection = connections[using]
    names, converters = _reading(using, model)
    count = len(names)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    instances = []
    for row in found:
        values = list(row[:count])
        for index, column_converters, expression in converters:
            for convert in column_converters:
                values[index] = convert(values[index], expression, connection)
        instance = model.from_db(using, names, values)
        for name, value in zip(extra, row[count:], strict=True):
            setattr(instance, name, value)
        instances.append(instance)
    return instances


_READING: dict[
    tuple[str, type[models.Model]], tuple[list[str], list[tuple[int, list[Any], Any]]]
] = {}


def _reading(
    using: str, model: type[models.Model]
) -> tuple[list[str], list[tuple[int, list[Any], Any]]]:
    """``model``'s column names in ``columns_of`` order, and the converters of each column
    that has any (the database's, then the field's: the ORM's order), worked out once."""
    key = (using, model)
    if key not in _READING:
        connection = connections[using]
        fields = model._meta.concrete_fields
        converters = []
        for index, field in enumerate(fields):
            expression = field.get_col(model._meta.db_table)
            found = connection.ops.get_db_converters(expression)
            found += expression.get_db_converters(connection)
            if found:
                converters.append((index, found, expression))
        _READING[key] = ([f.attname for f in fields], converters)
    return _READING[key]


def plain_values(obj: models.Model, fields: Sequence[Any]) -> bool:
    """Whether every field of ``obj`` goes in as a plain parameter: no expression (``F()``),
    no field with its own placeholder or a value the database computes. Else: the ORM."""
    return not any(
        hasattr(getattr(obj, f.attname), "resolve_expression")
        or hasattr(f, "get_placeholder")
        or getattr(f, "db_returning", False)
        for f in fields
    )


def insert(obj: models.Model, using: str | None = None, *, ignore_conflicts: bool = False) -> bool:
    """``obj.save(force_insert=True)`` for a new row with an automatic primary key: the same
    defaults, ``auto_now_add`` values, signals and new pk, from an INSERT written once.

    ``ignore_conflicts``: a row that would break a unique constraint is not inserted (no
    error, no failed statement: nothing to roll back) and False is returned, with no
    ``post_save``. On the ORM's path (other vendors) the IntegrityError is raised instead.
    """
    model = type(obj)
    using = using or router.db_for_write(model, instance=obj)
    connection = connections[using]
    meta = model._meta
    fields = [f for f in meta.local_concrete_fields if f is not meta.pk]
    if not _simple(connection, model) or obj.pk is not None or not plain_values(obj, fields):
        obj.save(force_insert=True, using=using)
        return True
    # As save() does: an FK set from an object saved since takes its pk (or refuses).
    obj._prepare_related_fields_for_save(operation_name="save")  # type: ignore[attr-defined]
    pre_save.send(model, instance=obj, raw=False, using=using, update_fields=None)
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    sql = written_once(
        ("insert", connection.vendor, model, 1, ignore_conflicts),
        partial(_insert_sql, connection, model, fields, 1, ignore_conflicts),
    )
    with transaction.mark_for_rollback_on_error(using):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return False
        obj.pk = row[0]
        obj._state.adding = False
        obj._state.db = using
        post_save.send(
            model, instance=obj, created=True, update_fields=None, raw=False, using=using
        )
    return True


def _simple(connection: BaseDatabaseWrapper, model: type[models.Model]) -> bool:
    """Whether a row of ``model`` is one row of one table this module can write: a usable
    vendor, and no proxy or parent table (those take the ORM)."""
    meta = model._meta
    return statements_usable(connection) and not meta.proxy and not meta.parents


def insert_many(objs: Sequence[models.Model], using: str | None = None) -> None:
    """``bulk_create(objs)`` for new rows of one model with automatic primary keys, each
    given its new pk. On SQLite, in as few INSERTs as the library's own parameter limit allows:
    one for a sync page (Django 5.2 caps SQLite at 999 parameters, which splits 50 media rows
    in two). Elsewhere ``bulk_create`` itself (on PostgreSQL, Django 5.2+ sends one
    ``INSERT ... SELECT FROM UNNEST``, quicker to plan than a long VALUES list). Like
    ``bulk_create``: ``auto_now_add`` values are set and no signal is sent."""
    if not objs:
        return
    model = type(objs[0])
    using = using or router.db_for_write(model, instance=objs[0])
    connection = connections[using]
    meta = model._meta
    fields = [f for f in meta.local_concrete_fields if f is not meta.pk]
    plain = all(obj.pk is None and plain_values(obj, fields) for obj in objs)
    if connection.vendor != "sqlite" or not _simple(connection, model) or not plain:
        model._default_manager.db_manager(using).bulk_create(objs)
        return
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="bulk_create")  # type: ignore[attr-defined]
    per_statement = max(1, parameter_limit(connection) // len(fields))
    # All batches or none, as bulk_create does.
    with transaction.atomic(using=using, savepoint=False):
        _insert_batches(connection, using, model, fields, objs, per_statement)


def _insert_batches(
    connection: BaseDatabaseWrapper,
    using: str,
    model: type[models.Model],
    fields: Sequence[Any],
    objs: Sequence[models.Model],
    per_statement: int,
) -> None:
    for start in range(0, len(objs), per_statement):
        batch = objs[start : start + per_statement]
        params = [
            f.get_db_prep_save(f.pre_save(obj, True), connection) for obj in batch for f in fields
        ]
        sql = written_once(
            ("insert", connection.vendor, model, len(batch), False),
            partial(_insert_sql, connection, model, fields, len(batch), False),
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            # In the order of VALUES, as Django's own bulk_create relies on.
            for obj, (pk,) in zip(batch, cursor.fetchall(), strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = using


def _insert_sql(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    fields: Sequence[Any],
    rows: int,
    ignore_conflicts: bool,
) -> str:
    """INSERT of ``rows`` rows of ``fields``, returning their primary keys."""
    values = ", ".join([f"({placeholders(len(fields))})"] * rows)
    return (
        f"INSERT INTO {table(connection, model)} "  # noqa: S608 - names from the model
        f"({', '.join(column(connection, f) for f in fields)}) VALUES {values}"
        f"{' ON CONFLICT DO NOTHING' if ignore_conflicts else ''} "
        f"RETURNING {column(connection, model._meta.pk)}"
    )


def parameter_limit(connection: BaseDatabaseWrapper) -> int:
    """How many parameters one SQLite statement may carry: the library's own limit, not
    Django 5.2's conservative 999."""
    connection.ensure_connection()
    getlimit = getattr(connection.connection, "getlimit", None)  # Python 3.11+
    if getlimit is not None:
        return int(getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    # SQLite's default since 3.32, unless it was built with a lower one (Python 3.10: unknown).
    return 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999


def update_fields(obj: models.Model, names: Sequence[str], using: str | None = None) -> None:
    """``obj.save(update_fields=names)`` from an UPDATE written once per set of fields: the
    same ``auto_now`` values, signals, and error when the row is gone."""
    model = type(obj)
    using = using or router.db_for_write(model, instance=obj)
    connection = connections[using]
    fields = _concrete_fields(model, names) if _simple(connection, model) else None
    if fields is None or not plain_values(obj, fields):
        obj.save(update_fields=names, using=using)  # and its error for a name it refuses
        return
    if not fields:
        return  # save(update_fields=[]) writes nothing and sends nothing
    meta = model._meta
    changed = frozenset(f.name for f in fields)
    pre_save.send(model, instance=obj, raw=False, using=using, update_fields=changed)
    params = [f.get_db_prep_save(f.pre_save(obj, False), connection) for f in fields]
    params.append(meta.pk.get_db_prep_value(obj.pk, connection))
    sql = written_once(
        ("update", connection.vendor, model, tuple(f.name for f in fields)),
        lambda: (
            f"UPDATE {table(connection, model)} SET "  # noqa: S608 - names from the model
            f"{', '.join(f'{column(connection, f)} = %s' for f in fields)} "
            f"WHERE {column(connection, meta.pk)} = %s"
        ),
    )
    with transaction.mark_for_rollback_on_error(using):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            if cursor.rowcount == 0:
                raise DatabaseError("Save with update_fields did not affect any rows.")
        post_save.send(
            model, instance=obj, created=False, update_fields=changed, raw=False, using=using
        )


def _concrete_fields(model: type[models.Model], names: Sequence[str]) -> list[Any] | None:
    """The concrete fields ``names`` name (a field once, by name or attname); None if one
    names none (``save()`` then raises its own error)."""
    fields: dict[str, Any] = {}
    for name in names:
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        if not (isinstance(field, models.Field) and field.concrete) or field.primary_key:
            return None
        fields[field.attname] = field
    return list(fields.values())
