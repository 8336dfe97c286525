import pytest
from hypothesis import given
from hypothesis import strategies as st

from parcelguard.core.masking import mask_address, mask_name, mask_phone


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("王五", "王*"),
        ("张三丰", "张**"),
        ("欧阳娜娜", "欧阳**"),
        ("司马光", "司马*"),
        ("欧阳", "欧*"),  # a compound surname alone still hides a character
        ("李", "*"),
        ("John Smith", "J*********"),
    ],
)
def test_names_hide_at_least_one_character_and_keep_the_surname(name: str, masked: str) -> None:
    assert mask_name(name) == masked
    assert masked.count("*") >= 1


def test_phones_hide_six_digits() -> None:
    assert mask_phone("13812345678") == "138******78"


@pytest.mark.parametrize(
    ("address", "kept"),
    [
        (
            "湖北省荆州市沙市区北京中路88号阳光小区3栋2单元501室",
            "湖北省荆州市沙市区北京中路88号阳光小区",
        ),
        ("北京市朝阳区建国路9号院2号楼1单元1201", "北京市朝阳区建国路9号院"),
        ("上海市浦东新区张杨路500号12-3-402", "上海市浦东新区张杨路500号"),
        ("广东省深圳市南山区科技园A座1502室", "广东省深圳市南山区科技园"),
    ],
)
def test_addresses_hide_the_unit_and_room(address: str, kept: str) -> None:
    masked = mask_address(address)
    assert masked == kept + "****"


def test_an_address_without_a_unit_still_hides_its_tail() -> None:
    address = "湖北省荆州市沙市区北京中路八十八号"
    masked = mask_address(address)
    assert masked.endswith("****")
    assert address not in masked
    assert address[-4:] not in masked


HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)


@given(st.text(alphabet=HAN, min_size=1, max_size=8))
def test_every_name_mask_hides_a_character_and_keeps_the_length(name: str) -> None:
    masked = mask_name(name)
    assert len(masked) == len(name)
    assert "*" in masked
    assert masked != name


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_every_phone_mask_hides_exactly_six_digits(phone: str) -> None:
    masked = mask_phone(phone)
    assert masked.count("*") == 6
    assert sum(ch.isdigit() for ch in masked) == 5


@given(st.text(alphabet=HAN | st.sampled_from("0123456789号栋单元室-"), min_size=2, max_size=60))
def test_no_address_survives_its_mask(address: str) -> None:
    masked = mask_address(address)
    assert masked.endswith("****")
    assert address.strip() not in masked or len(address.strip()) < 2
