"""Synthetic, valid persons for tests, benchmarks and demos (no real person's data).

``synthetic_id(i)`` maps every integer in [0, 400,000,000) to a distinct valid GB 11643 number, so
callers that need disjoint people just use disjoint ranges.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from sscard.identity.citizen_id import check_character

# Real county-level codes spread over provinces (all with valid prefixes, rule ID-3).
REGIONS = (
    "110101", "110105", "120101", "130102", "140105", "210102", "220102", "310101", "310104", "320102",
    "330102", "340102", "350102", "370102", "410102", "420102", "440103", "440305", "510104", "610102",
)  # fmt: skip
FAMILY = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红玲建国志明春梅海燕欣怡子涵浩然宇轩"
EPOCH = date(1950, 1, 1)
DAYS = 20_000  # birth dates 1950-01-01 … 2004-10-04


def synthetic_id(i: int) -> str:
    """The i-th synthetic citizen ID (distinct for distinct i)."""
    seq, rest = i % 1000, i // 1000
    born = EPOCH + timedelta(days=rest % DAYS)
    region = REGIONS[(rest // DAYS) % len(REGIONS)]
    body = f"{region}{born:%Y%m%d}{seq:03d}"
    return body + check_character(body)


def synthetic_rows(n: int, *, start: int = 0, seed: int = 0) -> Iterator[tuple[str, str, str, str]]:
    """(id_number, name, phone, email) for persons start … start+n-1; about half have no email."""
    rnd = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret
    for i in range(start, start + n):
        name = rnd.choice(FAMILY) + "".join(rnd.choices(GIVEN, k=rnd.choice((1, 2))))
        phone = f"1{rnd.choice('3456789')}{rnd.randrange(10**9):09d}" if rnd.random() < 0.9 else ""
        email = f"user{i}@example.com" if rnd.random() < 0.5 else ""
        yield synthetic_id(i), name, phone, email


def write_persons_csv(path: Path, n: int, *, start: int = 0, seed: int = 0, bom: bool = False) -> Path:
    """Write a header plus ``n`` valid synthetic persons as UTF-8 CSV."""
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("id_number", "name", "phone", "email"))
        writer.writerows(synthetic_rows(n, start=start, seed=seed))
    return path
