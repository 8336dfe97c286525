"""Rows become persons as Art. 11 counts them: connected by mobile or ID, untrue rows out."""

from __future__ import annotations

import secrets

import polars as pl
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from parcelguard.core.masking import mask_name, mask_phone
from parcelguard.forensics.case import PERSONS_SCHEMA
from parcelguard.forensics.classify import classify
from parcelguard.forensics.persons import (
    RowPlan,
    build_persons,
    compact,
    masked_names,
    normalise_rows,
)
from parcelguard.forensics.recognisers import default_recognisers
from parcelguard.vault.blind_index import BlindIndexer

RECOGNISERS = default_recognisers()
BY_ROLE = {r.role: r for r in RECOGNISERS}
INDEXER = BlindIndexer(secrets.token_bytes(32))
HEADER = ["姓名", "手机", "地址", "身份证号"]
ADDRESS = "湖北省荆州市沙市区北京路12号3栋2单元501室"
ID_A = "420102199001011236"  # valid check digit (GB 11643)
ID_B = "110101199003074514"
VNUM = "17091234567"  # the carrier's virtual range (170, 171 by default)


def check_digit_ok(number: str) -> bool:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(number[:17], weights, strict=True))
    return "10X98765432"[total % 11] == number[17]


def test_the_fixture_ids_are_valid() -> None:
    assert check_digit_ok(ID_A)
    assert check_digit_ok(ID_B)


def ingest_rows(data: list[list[str | None]]) -> tuple[pl.DataFrame, pa.Table, dict[str, int]]:
    width = len(HEADER)
    classification = classify([HEADER, *data], RECOGNISERS, width=width)
    assert classification.header
    plan = RowPlan.of(classification, width, ragged_possible=True)
    cells = pl.DataFrame(
        {
            "line": list(range(2, len(data) + 2)),
            "text": [",".join(c or "" for c in row) for row in data],
            "nfields": [width] * len(data),
            **{f"f{i}": [row[i] for row in data] for i in range(width)},
        },
        schema={
            "line": pl.Int64,
            "text": pl.String,
            "nfields": pl.Int32,
            **{f"f{i}": pl.String for i in range(width)},
        },
    )
    rows = normalise_rows(cells, plan, BY_ROLE)
    table, counts = build_persons(
        compact(rows.filter(pl.col("reason").is_null())).sort("order"), INDEXER
    )
    return rows, table, counts.as_dict()


def test_rows_sharing_a_mobile_or_an_id_are_one_person_transitively() -> None:
    rows, table, counts = ingest_rows(
        [
            ["张三", "13812345678", ADDRESS, ID_A],
            ["张三", "+86 139-1234-5678", None, ID_A],  # another mobile, the same ID
            [None, "13912345678", None, None],  # joins through the second row's mobile
            ["李四", "13712345678", ADDRESS, None],
            ["李四", "137 1234 5678", None, None],  # the same mobile spelled otherwise
            ["王五", None, None, ID_B],  # an ID number alone makes a person
        ]
    )
    assert rows.get_column("reason").null_count() == 6
    assert counts["person_records"] == 3
    assert counts["duplicates_excluded"] == 3
    assert counts["persons_with_several_numbers"] == 1
    assert table.column("rows").to_pylist() == [3, 2, 1]
    assert table.column("first_row").to_pylist() == [2, 5, 7]


def test_the_table_has_the_schema_blind_indexes_and_masks_but_no_plaintext() -> None:
    _, table, _ = ingest_rows([["张三", "13812345678", ADDRESS, ID_A], ["王五", None, None, ID_B]])
    assert table.schema.equals(PERSONS_SCHEMA)
    first = table.slice(0, 1).to_pylist()[0]
    assert first["phone_bidx"] == INDEXER.phone("13812345678")
    assert first["name_phone_bidx"] == INDEXER.name_phone("张三", "13812345678")
    assert first["id_digest"] == INDEXER.id_number(ID_A)
    assert first["phone_masked"] == mask_phone("13812345678")
    assert first["name_masked"] == mask_name("张三")
    assert first["adcode"] == "421002"
    second = table.slice(1, 1).to_pylist()[0]
    assert second["phone_bidx"] is None
    assert second["name_phone_bidx"] is None
    assert second["id_digest"] == INDEXER.id_number(ID_B)
    dump = str(table.to_pylist())
    for plain in ("13812345678", ID_A, ID_B, "张三", "王五", "北京路"):
        assert plain not in dump


def test_a_name_alone_is_nobody_and_untrue_numbers_are_counted_as_untrue() -> None:
    rows, _, counts = ingest_rows(
        [
            ["张三", None, ADDRESS, None],
            ["李四", "10912345678", ADDRESS, None],  # no such segment
            ["王五", None, None, "420102199001011234"],  # wrong check digit
            ["赵六", "13812345678", None, "420102199001011234"],  # the mobile still counts
        ]
    )
    reasons = dict(rows.group_by("reason").len().iter_rows())
    assert reasons == {"no_phone_or_id": 1, "invalid_phone": 1, "invalid_id": 1, None: 1}
    assert counts["person_records"] == 1
    assert counts["persons_with_id"] == 0


def test_virtual_numbers_are_records_of_their_own_counted_apart() -> None:
    _rows, table, counts = ingest_rows(
        [
            ["张三", VNUM, ADDRESS, None],
            ["张三", VNUM, ADDRESS, None],
            ["李四", "17112345678", None, None],
            ["王五", "13812345678", None, None],
        ]
    )
    assert counts["person_records"] == 1
    assert counts["virtual_number_records"] == 2
    assert counts["duplicates_excluded"] == 1
    virtual = [r for r in table.to_pylist() if r["virtual_number"] is not None]
    assert sorted(r["virtual_number"] for r in virtual) == [VNUM, "17112345678"]
    assert all(r["phone_bidx"] is None for r in virtual)


NAME_PARTS = ["欧阳", "司马", "王", "张", "三", "丰", "㐀", "a", "B", "·", "*", " ", "先生"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(NAME_PARTS), max_size=5).map("".join), max_size=40))
def test_masked_names_agree_with_mask_name(names: list[str]) -> None:
    frame = pl.DataFrame({"name": [*names, None]}, schema={"name": pl.String})
    masked = frame.select(masked_names(pl.col("name"))).to_series().to_list()
    assert masked == [*(mask_name(n) for n in names), None]


def test_index_columns_are_placed_by_person_with_nulls_between() -> None:
    _, table, _ = ingest_rows(
        [
            ["王五", None, None, ID_B],
            ["张三", "13812345678", ADDRESS, None],
            [None, "13912345678", None, ID_A],
        ]
    )
    rows = table.to_pylist()
    assert [r["phone_bidx"] for r in rows] == [
        None,
        INDEXER.phone("13812345678"),
        INDEXER.phone("13912345678"),
    ]
    assert [r["name_phone_bidx"] for r in rows] == [
        None,
        INDEXER.name_phone("张三", "13812345678"),
        None,
    ]
    assert [r["id_digest"] for r in rows] == [
        INDEXER.id_number(ID_B),
        None,
        INDEXER.id_number(ID_A),
    ]
    assert table.column("phone_bidx").null_count == 1


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.none() | st.integers(0, 6), st.none() | st.integers(0, 6)).filter(
            lambda pair: pair != (None, None)
        ),
        unique=True,
        max_size=25,
    )
)
def test_components_are_those_of_a_union_find(pairs: list[tuple[int | None, int | None]]) -> None:
    from parcelguard.forensics.persons import _components

    parent = list(range(len(pairs)))

    def root(k: int) -> int:
        while parent[k] != k:
            k = parent[k]
        return k

    for a, (ma, ia) in enumerate(pairs):
        for b, (mb, ib) in enumerate(pairs[:a]):
            if (ma is not None and ma == mb) or (ia is not None and ia == ib):
                parent[root(a)] = root(b)
    expected = [min(k for k in range(len(pairs)) if root(k) == root(j)) for j in range(len(pairs))]
    frame = pl.DataFrame(
        {"_m": [m for m, _ in pairs], "_i": [i for _, i in pairs], "_label": range(len(pairs))},
        schema={"_m": pl.Int64, "_i": pl.Int64, "_label": pl.Int64},
    )
    assert _components(frame).to_list() == expected


KEPT_SCHEMA = {
    "order": pl.Int64,
    "line": pl.Int64,
    "_m": pl.Int64,
    "_i": pl.Int64,
    "name": pl.String,
    "_ad": pl.UInt32,
    "_v": pl.Int64,
    "waybill": pl.String,
}
MOBILES = [13812345678 + k for k in range(5)]
IDS = [int(ID_A[:17]) * 11 + 6, int(ID_B[:17]) * 11 + 4]  # compact() form of ID_A, ID_B


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.none() | st.sampled_from(MOBILES),
            st.none() | st.sampled_from(IDS),
            st.none() | st.sampled_from(["张三", "李四"]),
        ).filter(lambda row: row[0] is not None or row[1] is not None),
        min_size=1,
        max_size=14,
    )
)
def test_persons_are_the_components_of_the_rows_in_file_order(
    rows: list[tuple[int | None, int | None, str | None]],
) -> None:
    kept = pl.DataFrame(
        {
            "order": range(1, len(rows) + 1),
            "line": range(1, len(rows) + 1),
            "_m": [m for m, _, _ in rows],
            "_i": [i for _, i, _ in rows],
            "name": [n for _, _, n in rows],
            "_ad": [None] * len(rows),
            "_v": [None] * len(rows),
            "waybill": [None] * len(rows),
        },
        schema=KEPT_SCHEMA,
    )
    table, counts = build_persons(kept, INDEXER)
    parent = list(range(len(rows)))

    def root(k: int) -> int:
        while parent[k] != k:
            k = parent[k]
        return k

    for a, (ma, ia, _) in enumerate(rows):
        for b in range(a):
            mb, ib, _ = rows[b]
            if (ma is not None and ma == mb) or (ia is not None and ia == ib):
                parent[root(a)] = root(b)
    members: dict[int, list[int]] = {}
    for k in range(len(rows)):
        members.setdefault(root(k), []).append(k)
    components = sorted(members.values(), key=min)
    assert counts.person_records == len(components)
    assert table.column("first_row").to_pylist() == [min(c) + 1 for c in components]
    assert table.column("rows").to_pylist() == [len(c) for c in components]
    several = sum(
        1
        for c in components
        if len({rows[k][0] for k in c} - {None}) > 1 or len({rows[k][1] for k in c} - {None}) > 1
    )
    assert counts.persons_with_several_numbers == several
    for person, component in zip(table.to_pylist(), components, strict=True):
        first_mobile = next((rows[k][0] for k in component if rows[k][0] is not None), None)
        expected = INDEXER.phone(str(first_mobile)) if first_mobile is not None else None
        assert person["phone_bidx"] == expected
