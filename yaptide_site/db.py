"""The two helpers every hand-written statement of the project shares: rows to model instances, and the bulk
insert of multi-table (polymorphic) children, which Django's bulk_create cannot do.

The statements themselves live with their app (simulations/sql.py, accounts/selectors.py).
"""

from collections.abc import Iterable, Sequence
from typing import TypeVar

from django.contrib.contenttypes.models import ContentType
from django.db import connection, models

M = TypeVar("M", bound=models.Model)


def fetch_all(sql: str, params: Sequence = ()) -> list[tuple]:
    """The rows of one plain statement."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def to_model(model: type[M], attnames: Sequence[str], row: Sequence) -> M:
    """A model instance from a row of `attnames` columns (in the model's field order), as the ORM would load it.

    SQLite hands back naive datetimes as strings; the backend's converter turns them into aware datetimes,
    as the ORM does, so the same code runs on SQLite and PostgreSQL.
    """
    convert = getattr(connection.ops, "convert_datetimefield_value", None)
    if convert is not None:
        fields = [model._meta.get_field(name) for name in attnames]
        row = [
            convert(value, None, connection) if isinstance(field, models.DateTimeField) else value
            for field, value in zip(fields, row, strict=True)
        ]
    return model.from_db(connection.alias, list(attnames), row)


def fetch_model(model: type[M], sql: str, params: Sequence, attnames: Sequence[str] | None = None) -> M | None:
    """The first row of `sql` (selecting `attnames`, by default every concrete column in order) as a model."""
    attnames = attnames or [field.attname for field in model._meta.concrete_fields]
    rows = fetch_all(sql, params)
    return to_model(model, attnames, rows[0]) if rows else None


def select_sql(model: type[models.Model], condition: str, *, lock: bool = False) -> str:
    """SELECT of every concrete column of `model`'s own table WHERE `condition` (FOR UPDATE where supported)."""
    columns = ", ".join(field.column for field in model._meta.concrete_fields)
    sql = f"SELECT {columns} FROM {model._meta.db_table} WHERE {condition}"
    if lock and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    return sql


def bulk_create_polymorphic(model: type[M], objs: Iterable[M], *, batch_size: int = 2000) -> list[M]:
    """Inserts polymorphic children of one concrete class (e.g. CeleryTask) in two statements per batch.

    Sets the discriminator columns on the way: `polymorphic_ctype` from the class and, where the class
    declares one, `platform` from its PLATFORM. Returns the objects with their primary keys set.
    """
    objs = list(objs)
    if not objs:
        return objs
    ptr = model._meta.pk  # the child's OneToOne link to its parent row
    parent = ptr.remote_field.model
    content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
    platform = getattr(model, "PLATFORM", "")
    # Ids the caller set (the legacy import keeps yaptide's ids) are inserted as they are; else the sequence's.
    given_ids = all(getattr(obj, parent._meta.pk.attname) is not None for obj in objs)
    parent_fields = [field for field in parent._meta.concrete_fields if given_ids or not field.primary_key]
    for obj in objs:
        obj.polymorphic_ctype_id = content_type.pk
        if platform:
            obj.platform = platform
    parents = parent._base_manager.bulk_create(
        [parent(**{field.attname: getattr(obj, field.attname) for field in parent_fields}) for obj in objs],
        batch_size=batch_size,
    )
    child_fields = [field for field in model._meta.local_concrete_fields if not field.primary_key]
    columns = ", ".join([ptr.column, *(field.column for field in child_fields)])
    placeholders = ", ".join(["%s"] * (1 + len(child_fields)))
    rows = []
    for obj, parent_row in zip(objs, parents, strict=True):
        for field in parent._meta.concrete_fields:  # the parent's id and database defaults, as inserted
            setattr(obj, field.attname, getattr(parent_row, field.attname))
        obj.pk = parent_row.pk
        obj._state.adding = False
        prepared = [field.get_db_prep_save(getattr(obj, field.attname), connection) for field in child_fields]
        rows.append([parent_row.pk, *prepared])
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch_size):
            cursor.executemany(
                f"INSERT INTO {model._meta.db_table} ({columns}) VALUES ({placeholders})",
                rows[start : start + batch_size],
            )
    return objs
