"""The in-memory table and its paging: the ground every listing stands on."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sandbox.table import Table, page_after, page_before


@dataclass(slots=True)
class Row:
    id: str
    created: int
    email: str | None


def make_table(rows: int = 10) -> Table[str, Row]:
    table: Table[str, Row] = Table(
        key=lambda r: r.id,
        order=lambda r: (r.created, r.id),
        indexes={"email": lambda r: r.email},
    )
    for n in range(rows):
        table.add(Row(f"r{n:02d}", 100 + n, f"{n % 3}@example.com"))
    return table


def ids(keys: list[tuple[int, str]]) -> list[str]:
    return [key for _, key in keys]


def test_pages_after_a_key_ascending() -> None:
    order = make_table().order()

    first = page_after(order, None, 4, descending=False)
    second = page_after(order, first.keys[-1], 4, descending=False)

    assert ids(first.keys) == ["r00", "r01", "r02", "r03"]
    assert ids(second.keys) == ["r04", "r05", "r06", "r07"]
    assert (first.more_after, first.more_before) == (True, False)
    assert (second.more_after, second.more_before) == (True, True)


def test_pages_after_a_key_descending() -> None:
    order = make_table().order()

    first = page_after(order, None, 4, descending=True)
    last = page_after(order, (101, "r01"), 4, descending=True)

    assert ids(first.keys) == ["r09", "r08", "r07", "r06"]
    assert ids(last.keys) == ["r00"]
    assert last.more_after is False


def test_a_cursor_survives_the_deletion_of_its_row() -> None:
    table = make_table()
    cursor = table.sort_key(table.rows["r03"])
    table.remove("r03")

    page = page_after(table.order(), cursor, 2, descending=False)

    assert ids(page.keys) == ["r04", "r05"]


def test_a_filtered_page_scans_past_rows_it_leaves_out() -> None:
    table = make_table()

    def even(key: tuple[int, str]) -> bool:
        return int(key[1][1:]) % 2 == 0

    first = page_after(table.order(), None, 3, descending=True, keep=even)
    second = page_after(table.order(), first.keys[-1], 3, descending=True, keep=even)

    assert ids(first.keys) == ["r08", "r06", "r04"]
    assert ids(second.keys) == ["r02", "r00"]
    assert (first.more_after, first.more_before) == (True, False)
    assert (second.more_after, second.more_before) == (False, True)


@pytest.mark.parametrize("descending", [False, True])
def test_page_before_gives_back_the_previous_page(descending: bool) -> None:
    order = make_table().order()
    first = page_after(order, None, 3, descending=descending)
    second = page_after(order, first.keys[-1], 3, descending=descending)

    back = page_before(order, second.keys[0], 3, descending=descending)

    assert back.keys == first.keys
    assert back.more_before is False
    assert back.more_after is True


def test_update_keeps_indexes_and_order_right() -> None:
    table = make_table()
    table.order()

    def change(row: Row) -> None:
        row.email = "new@example.com"
        row.created = 1

    table.update("r05", change)

    assert [r.id for r in table.find("email", "new@example.com")] == ["r05"]
    assert "r05" not in [r.id for r in table.find("email", "2@example.com")]
    assert table.order()[0] == (1, "r05")


def test_an_index_bucket_shrinks_back_when_rows_leave() -> None:
    table = make_table(4)

    table.remove("r00")
    table.remove("r03")

    assert table.find("email", "0@example.com") == []
    assert [r.id for r in table.find("email", "1@example.com")] == ["r01"]


def test_adding_a_duplicate_key_is_refused() -> None:
    table = make_table(1)

    with pytest.raises(ValueError, match="duplicate"):
        table.add(Row("r00", 5, None))


def test_rows_added_after_the_order_was_built_join_it() -> None:
    table = make_table(3)
    table.order()

    table.add(Row("r99", 50, None))

    assert table.order()[0] == (50, "r99")
