from __future__ import annotations

from llmmeter.ingest.repository import _PG_COLUMNS, _table


def test_the_bulk_insert_names_every_column_of_the_table() -> None:
    # A column added to the model but not to the array insert would be silently left NULL.
    assert {name for name, _ in _PG_COLUMNS} == {c.name for c in _table.columns}
