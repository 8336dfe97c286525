import pytest
from hypothesis import given
from hypothesis import strategies as st

from parcelguard.core.phone import InvalidPhone, normalise_cn_mobile


@pytest.mark.parametrize(
    "text",
    [
        "13812345678",
        "+86 138 1234 5678",
        "+8613812345678",
        "008613812345678",
        "8613812345678",
        "138-1234-5678",
        "１３８１２３４５６７８",  # full-width digits
        "＋８６ １３８１２３４５６７８",
        "(138) 1234 5678",
        " 138.1234.5678 ",
    ],
)
def test_forms_people_write_normalise_to_eleven_digits(text: str) -> None:
    assert normalise_cn_mobile(text) == "13812345678"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "1381234567",
        "138123456789",
        "12812345678",
        "23812345678",
        "138l2345678",
        "010-12345678",
    ],
)
def test_non_mobile_numbers_are_rejected(text: str) -> None:
    with pytest.raises(InvalidPhone):
        normalise_cn_mobile(text)


def test_the_error_never_repeats_the_number() -> None:
    with pytest.raises(InvalidPhone) as info:
        normalise_cn_mobile("1381234567")
    assert "1381234567" not in str(info.value)


@given(
    st.sampled_from("3456789"),
    st.text(alphabet="0123456789", min_size=9, max_size=9),
    st.sampled_from(["", "+86", "0086", "86", "+86 "]),
    st.sampled_from(["", " ", "-"]),
)
def test_any_prefix_and_separator_gives_the_same_number(
    second: str, rest: str, prefix: str, sep: str
) -> None:
    number = "1" + second + rest
    written = prefix + sep.join([number[:3], number[3:7], number[7:]])
    assert normalise_cn_mobile(written) == number
