"""The simulator's reference tables: real districts, real mobile segments, weighted surnames."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from parcelguard.core.names import COMPOUND_SURNAMES
from parcelguard.core.phone import normalise_cn_mobile
from parcelguard.simulate.reference import (
    CARRIER_NAMES,
    SINGLE_GIVEN_NAME_SHARE,
    districts,
    given_name_chars,
    mobile_segments,
    phone_province_of,
    province_names,
    sample_names,
    sample_phones,
    surnames,
)

NOT_MAINLAND = {"71", "81", "82"}  # Taiwan, Hong Kong, Macau


def _row(adcode: str) -> int:
    (rows,) = np.nonzero(districts().adcode == adcode)
    assert len(rows) == 1, adcode
    return int(rows[0])


# ---------------------------------------------------------------------------- districts


def test_counts_are_plausible() -> None:
    d = districts()
    assert len(d) > 2800
    assert len(set(d.adcode.tolist())) == len(d)
    assert len(province_names()) == 34
    assert len(set(d.province_code.tolist())) == 31
    for field in ("adcode", "name", "province", "province_code", "city", "lon", "lat"):
        assert len(getattr(d, field)) == len(d), field


def test_shashi_district_of_jingzhou() -> None:
    d = districts()
    i = _row("421002")
    assert (d.name[i], d.city[i], d.province[i], d.province_code[i]) == (
        "沙市区",
        "荆州市",
        "湖北省",
        "42",
    )
    assert d.lon[i] == pytest.approx(112.25, abs=0.05)
    assert d.lat[i] == pytest.approx(30.33, abs=0.05)
    assert not d.coords_imputed[i]
    assert d.phone_province[i] == "湖北"


def test_every_adcode_is_six_digits_under_a_known_province() -> None:
    d = districts()
    provinces = province_names()
    assert list(d.adcode) == sorted(d.adcode.tolist())
    for adcode, code, province in zip(
        d.adcode.tolist(), d.province_code.tolist(), d.province.tolist(), strict=True
    ):
        assert len(adcode) == 6
        assert adcode.isdigit()
        assert adcode[:2] == code
        assert provinces[code] == province
        assert code not in NOT_MAINLAND


def test_placeholders_are_excluded_and_special_cases_documented() -> None:
    d = districts()
    assert "市辖区" not in set(d.name.tolist())
    # Municipalities: the city part is the municipality itself.
    assert d.city[_row("110105")] == "北京市"
    assert d.city[_row("500233")] == "重庆市"
    # Province-governed county-level city: its own city.
    assert d.city[_row("429004")] == d.name[_row("429004")] == "仙桃市"
    # Cities without counties keep their city code and are their own district.
    for adcode, name in {"441900": "东莞市", "442000": "中山市", "460400": "儋州市"}.items():
        assert d.name[_row(adcode)] == d.city[_row(adcode)] == name


def test_coordinates_lie_in_china_and_gaps_are_marked() -> None:
    d = districts()
    assert np.all((d.lon > 73) & (d.lon < 136))
    assert np.all((d.lat > 3) & (d.lat < 54))
    # Six counties changed in 2016-17 lack a centroid in the source.
    assert int(d.coords_imputed.sum()) == 6
    assert d.coords_imputed[_row("320812")]  # 清江浦区 → 淮安市's centroid


def test_cached_arrays_are_read_only() -> None:
    assert districts() is districts()
    with pytest.raises(ValueError, match="read-only"):
        districts().lon[0] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        mobile_segments().prefix[0] = 0
    with pytest.raises(ValueError, match="read-only"):
        surnames()[1][0] = 1.0


# ------------------------------------------------------------------------------ phones


def test_mobile_segment_table() -> None:
    segments = mobile_segments()
    assert len(segments) > 400_000
    assert segments.prefix.dtype == np.int32
    assert segments.carrier.dtype == np.uint8
    assert np.all(np.diff(segments.prefix) > 0)
    assert set(np.unique(segments.carrier).tolist()) <= set(CARRIER_NAMES)
    assert len(set(segments.province.tolist())) == 31
    first = int(np.searchsorted(segments.prefix, 1_300_000))
    assert segments.prefix[first] == 1_300_000


@pytest.mark.parametrize(
    ("cpca", "phone"),
    [
        ("湖北省", "湖北"),
        ("北京市", "北京"),
        ("内蒙古自治区", "内蒙古"),
        ("广西壮族自治区", "广西"),
        ("新疆维吾尔自治区", "新疆"),
        ("宁夏回族自治区", "宁夏"),
        ("西藏自治区", "西藏"),
        ("黑龙江省", "黑龙江"),
        ("香港特别行政区", "香港"),
        ("湖北", "湖北"),
    ],
)
def test_phone_province_names(cpca: str, phone: str) -> None:
    assert phone_province_of(cpca) == phone


def test_every_mainland_province_has_segments() -> None:
    with_segments = set(mobile_segments().province.tolist())
    for code, name in province_names().items():
        if code in NOT_MAINLAND:
            assert phone_province_of(name) not in with_segments, name
        else:
            assert phone_province_of(name) in with_segments, name
    assert set(districts().phone_province.tolist()) == with_segments


def test_sampled_phones_are_real_numbers_of_the_requested_province() -> None:
    segments = mobile_segments()
    wanted = np.array(sorted(set(segments.province.tolist())) * 300)
    phones = sample_phones(np.random.default_rng(11), wanted)
    assert phones.shape == wanted.shape
    assert all(normalise_cn_mobile(p) == p for p in phones.tolist())
    prefix = phones.astype(np.int64) // 10_000
    slot = np.searchsorted(segments.prefix, prefix)
    assert np.all(segments.prefix[slot] == prefix)
    assert np.all(segments.province[slot] == wanted)


def test_phone_sampling_for_district_rows() -> None:
    d = districts()
    rng = np.random.default_rng(5)
    rows = rng.integers(0, len(d), 10_000)
    phones = sample_phones(rng, d.phone_province[rows])
    segments = mobile_segments()
    slot = np.searchsorted(segments.prefix, phones.astype(np.int64) // 10_000)
    assert np.all(segments.province[slot] == d.phone_province[rows])


def test_phone_sampling_edge_cases() -> None:
    rng = np.random.default_rng(0)
    assert sample_phones(rng, []).shape == (0,)
    assert sample_phones(rng, ["上海"])[0].startswith("1")
    with pytest.raises(KeyError, match="香港"):
        sample_phones(rng, ["湖北", "香港"])
    with pytest.raises(KeyError, match="湖北省"):
        sample_phones(rng, ["湖北省"])


def test_phone_sampling_is_deterministic() -> None:
    wanted = districts().phone_province[:500]
    first = sample_phones(np.random.default_rng(42), wanted)
    again = sample_phones(np.random.default_rng(42), wanted)
    other = sample_phones(np.random.default_rng(43), wanted)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_a_million_phones_are_fast() -> None:
    d = districts()
    rng = np.random.default_rng(1)
    wanted = d.phone_province[rng.integers(0, len(d), 1_000_000)]
    sample_phones(rng, wanted[:10])  # load and index the table outside the timing
    started = time.perf_counter()
    phones = sample_phones(rng, wanted)
    elapsed = time.perf_counter() - started
    print(f"1,000,000 phones in {elapsed:.3f} s")
    assert len(phones) == 1_000_000
    assert elapsed < 2.0  # typically ~0.15 s


# ------------------------------------------------------------------------------- names


def test_surname_distribution() -> None:
    names, p = surnames()
    assert len(names) == len(p) == len(set(names.tolist()))
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(p > 0)
    top = names[np.argsort(-p, kind="stable")[:3]].tolist()
    assert top == ["王", "李", "张"]
    table = dict(zip(names.tolist(), p.tolist(), strict=True))
    assert table.keys() >= COMPOUND_SURNAMES
    assert table["欧阳"] > table["司马"] > 0


def test_given_name_characters() -> None:
    chars, p = given_name_chars()
    assert len(chars) > 50
    assert all(len(c) == 1 for c in chars.tolist())
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(p) <= 0)


def test_sampled_names() -> None:
    names = sample_names(np.random.default_rng(3), 200_000)
    assert names.shape == (200_000,)
    lengths = np.char.str_len(names)
    assert set(np.unique(lengths).tolist()) <= {2, 3, 4}
    compound = np.isin(np.char.ljust(names, 2).astype("<U2"), list(COMPOUND_SURNAMES))
    given = lengths - np.where(compound, 2, 1)
    assert np.mean(given == 1) == pytest.approx(SINGLE_GIVEN_NAME_SHARE, abs=0.01)
    assert np.mean(np.char.startswith(names, "王") & ~compound) == pytest.approx(0.074, abs=0.005)
    assert compound.any()
    assert sample_names(np.random.default_rng(3), 0).shape == (0,)
    with pytest.raises(ValueError, match="negative"):
        sample_names(np.random.default_rng(3), -1)


def test_name_sampling_is_deterministic() -> None:
    first = sample_names(np.random.default_rng(9), 1_000)
    assert np.array_equal(first, sample_names(np.random.default_rng(9), 1_000))
    assert not np.array_equal(first, sample_names(np.random.default_rng(10), 1_000))


_CHILD = """
import hashlib, json, sys
import numpy as np
from parcelguard.simulate import reference as r
d = r.districts()
rng = np.random.default_rng(2024)
names = r.sample_names(rng, 5000)
phones = r.sample_phones(rng, d.phone_province[rng.integers(0, len(d), 5000)])
digest = hashlib.sha256("".join(names.tolist() + phones.tolist()).encode()).hexdigest()
print(json.dumps({"digest": digest, "loaded": sorted({"cpca", "pandas", "phone"} & set(sys.modules))}))
"""


def _child(hash_seed: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, check=True
    ).stdout
    result: dict[str, object] = json.loads(out)
    return result


def test_same_seed_same_world_in_every_process_without_importing_cpca() -> None:
    first, second = _child("1"), _child("2")
    assert first["digest"] == second["digest"]  # frozenset order must not leak into sampling
    assert first["loaded"] == []  # cpca (and with it pandas) and phone are read, not imported
