"""Synthetic waybills with plausible Chinese recipients, for the demo, tests and benchmarks.

Every name, phone and address is made up from a seed. Surnames follow their approximate
frequency in the population (王 李 张 刘 陈 lead), compound surnames included; phones use
real mobile segments; addresses use real district codes with building, unit and room parts
so that masking has something to hide. The full world simulator builds on this.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from parcelguard.core.waybill import NewWaybill

# (surname, weight): the most common surnames, weights roughly their share in percent.
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.1),
    ("李", 7.0),
    ("张", 6.7),
    ("刘", 5.4),
    ("陈", 4.5),
    ("杨", 3.1),
    ("黄", 2.5),
    ("赵", 2.3),
    ("吴", 2.0),
    ("周", 1.9),
    ("徐", 1.5),
    ("孙", 1.5),
    ("马", 1.4),
    ("朱", 1.3),
    ("胡", 1.3),
    ("郭", 1.2),
    ("何", 1.2),
    ("高", 1.1),
    ("林", 1.1),
    ("罗", 1.0),
    ("郑", 1.0),
    ("梁", 1.0),
    ("谢", 0.8),
    ("宋", 0.8),
    ("唐", 0.8),
    ("许", 0.7),
    ("韩", 0.7),
    ("冯", 0.7),
    ("邓", 0.7),
    ("曹", 0.7),
    ("彭", 0.6),
    ("曾", 0.6),
    ("肖", 0.6),
    ("田", 0.6),
    ("董", 0.5),
    ("欧阳", 0.05),
    ("司马", 0.01),
    ("上官", 0.01),
    ("诸葛", 0.01),
    ("东方", 0.01),
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国文辉玉梅鑫宇浩然子涵欣怡梓轩"
MOBILE_SEGMENTS = (
    "130 131 132 133 134 135 136 137 138 139 147 150 151 152 153 155 156 157 158 159 "
    "166 170 171 173 175 176 177 178 180 181 182 183 184 185 186 187 188 189 191 198 199"
).split()
# (adcode, province, city, district)
DISTRICTS: tuple[tuple[str, str, str, str], ...] = (
    ("421002", "湖北省", "荆州市", "沙市区"),
    ("421003", "湖北省", "荆州市", "荆州区"),
    ("420106", "湖北省", "武汉市", "武昌区"),
    ("130102", "河北省", "石家庄市", "长安区"),
    ("110105", "北京市", "北京市", "朝阳区"),
    ("310115", "上海市", "上海市", "浦东新区"),
    ("440305", "广东省", "深圳市", "南山区"),
    ("330106", "浙江省", "杭州市", "西湖区"),
    ("510107", "四川省", "成都市", "武侯区"),
    ("320106", "江苏省", "南京市", "鼓楼区"),
)
ROADS = "北京 人民 解放 中山 建设 长江 和平 胜利 新华 江汉 黄河 文化".split()
ESTATES = "阳光 锦绣 幸福 翠苑 金色 书香 滨江 和园".split()
CATEGORIES = (
    "health medicine collectibles apparel electronics food books cosmetics household "
    "documents other"
).split()


class RecipientMaker:
    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._surnames = [s for s, _ in SURNAMES]
        self._weights = [w for _, w in SURNAMES]

    def name(self) -> str:
        rng = self._rng
        surname = rng.choices(self._surnames, self._weights)[0]
        return surname + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))

    def phone(self) -> str:
        return self._rng.choice(MOBILE_SEGMENTS) + f"{self._rng.randrange(10**8):08d}"

    def address(self) -> tuple[str, str]:
        rng = self._rng
        adcode, province, city, district = rng.choice(DISTRICTS)
        city_part = "" if city == province else city
        street = f"{rng.choice(ROADS)}{rng.choice(('路', '大道', '街'))}{rng.randint(1, 300)}号"
        estate = f"{rng.choice(ESTATES)}{rng.choice(('小区', '花园', '家园'))}"
        unit = f"{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元{rng.randint(1, 33)}{rng.randint(1, 4):02d}室"
        return adcode, f"{province}{city_part}{district}{street}{estate}{unit}"


def synthetic_waybills(
    count: int,
    *,
    seed: int,
    start: datetime,
    span: timedelta = timedelta(days=1),
    first_serial: int = 0,
) -> Iterator[NewWaybill]:
    """``count`` waybills created evenly over ``span`` from ``start`` (an aware datetime)."""
    maker = RecipientMaker(seed)
    rng = random.Random(seed + 1)
    seconds = span.total_seconds()
    for i in range(count):
        adcode, address = maker.address()
        yield NewWaybill(
            waybill_no=f"PG{first_serial + i:012d}",
            sender_id=f"S{rng.randrange(1000):04d}",
            category=rng.choice(CATEGORIES),
            created_at=start + timedelta(seconds=seconds * i / max(count, 1)),
            origin_site_id=f"ST{rng.randrange(500):04d}",
            dest_site_id=f"ST{rng.randrange(500):04d}",
            dest_adcode=adcode,
            recipient_name=maker.name(),
            recipient_phone=maker.phone(),
            recipient_address=address,
        )
