"""The demo data set, as constants: loading it twice changes nothing (idempotent by natural keys).

Every value here is fictitious; the citizen IDs are well-formed (valid check character) but made up.
"""

from __future__ import annotations

from dataclasses import dataclass

from sscard.staff.demo_password import DEMO_STAFF_PASSWORD
from sscard.staff.roles import Role

# The one documented password of every demo staff account (defined in staff: staff refuses it in prod).
__all__ = ["DEMO_STAFF_PASSWORD", "PERSONS", "STAFF"]


@dataclass(frozen=True)
class DemoRegion:
    code: str
    name_zh: str
    name_en: str


# Parents before children: add_region needs the parent registered first.
REGIONS: tuple[DemoRegion, ...] = (
    DemoRegion("000000", "全国", "China (national)"),
    DemoRegion("110000", "北京市", "Beijing"),
    DemoRegion("110100", "北京市市辖区", "Beijing city districts"),
    DemoRegion("110101", "东城区", "Dongcheng"),
    DemoRegion("110105", "朝阳区", "Chaoyang"),
    DemoRegion("110108", "海淀区", "Haidian"),
    DemoRegion("440000", "广东省", "Guangdong"),
    DemoRegion("440100", "广州市", "Guangzhou"),
    DemoRegion("440106", "天河区", "Tianhe"),
    DemoRegion("440300", "深圳市", "Shenzhen"),
    DemoRegion("440303", "罗湖区", "Luohu"),
    DemoRegion("440304", "福田区", "Futian"),
    DemoRegion("440305", "南山区", "Nanshan"),
)


@dataclass(frozen=True)
class DemoStaff:
    username: str
    role: Role
    region_code: str
    display_name: str
    bank_code: str | None = None  # bank clerks: the bank of their outlet (PIN-6)


# The two demo provinces; each gets one account per role. Each province's bank clerk works at an
# outlet of the demo bank below, and some of the province's demo cards are issued through it (FIN-3).
STAFF_REGIONS = (("bj", "110000", "北京"), ("gd", "440000", "广东"))
DEMO_BANKS = {"110000": "ICBC", "440000": "CCB"}
_ROLE_ZH = {
    Role.COUNTER_CLERK: "柜员",
    Role.COUNTER_SUPERVISOR: "柜面主管",
    Role.BANK_CLERK: "银行柜员",
    Role.SECURITY_OFFICER: "安全管理员",
    Role.KEY_CUSTODIAN: "密钥保管员",
    Role.AUDITOR: "审计员",
    Role.ADMINISTRATOR: "系统管理员",
    Role.HOTLINE_OPERATOR: "12345 话务员",
}
STAFF: tuple[DemoStaff, ...] = tuple(
    DemoStaff(
        f"{prefix}_{role.value}",
        role,
        code,
        f"{city}{_ROLE_ZH[role]}",
        DEMO_BANKS[code] if role is Role.BANK_CLERK else None,
    )
    for prefix, code, city in STAFF_REGIONS
    for role in Role
) + (
    # A city-level clerk, to show that Shenzhen staff cannot act on Guangzhou or Beijing records.
    DemoStaff("sz_counter_clerk", Role.COUNTER_CLERK, "440300", "深圳柜员"),
)


@dataclass(frozen=True)
class DemoPerson:
    id_number: str
    name: str
    phone: str | None
    email: str | None
    # The person's social security card in the demo, one of CARD_PLANS (None: no card).
    card: str | None
    # A card with the financial function, issued through this bank (FIN-3); None: no bank side.
    bank: str | None = None


# What the demo does with a person's social security card (CARD-1 states worth trying out):
#   applied        an application, no card personalised yet
#   issued         personalised, waiting for activation at a window (CARD-4)
#   active         activated
#   loss_reported  active, then an oral loss report through the 12345 hotline (CARD-5, provisional)
#   replaced       active, loss confirmed at a counter, replaced: the old card is invalid, the new one issued
CARD_PLANS = ("applied", "issued", "active", "loss_reported", "replaced")


PERSONS: tuple[DemoPerson, ...] = (
    DemoPerson("110101196503150110", "张伟", "13800138001", "zhang.wei@example.com", "active", "ICBC"),
    DemoPerson("110105197806220227", "王芳", "13800138002", None, "active"),
    DemoPerson("110105199001010379", "李军", "13800138003", "li.jun@example.com", "issued"),
    DemoPerson("110108198511300485", "李娜", "13800138004", None, "active", "ICBC"),
    DemoPerson("110108200107090535", "刘洋", None, None, "applied"),
    DemoPerson("110101195802040646", "张敏", "13800138006", None, "active"),
    DemoPerson("110105199304180711", "陈刚", "13800138007", "chen.gang@example.com", "issued", "ICBC"),
    DemoPerson("110108197208270864", "刘静", "13800138008", None, "replaced"),
    DemoPerson("110101199912120952", "杨磊", "13800138009", None, "loss_reported"),
    DemoPerson("110105196705301023", "陈丽", "13800138010", None, "issued"),
    DemoPerson("11010519880318101X", "黄勇", "13800138011", "huang.yong@example.com", "active"),
    DemoPerson("440303198802141133", "赵杰", "13900139001", None, "active", "CCB"),
    DemoPerson("440304199509051244", "杨艳", "13900139002", "yang.yan@example.com", "active"),
    DemoPerson("440305197610231351", "周涛", "13900139003", None, "issued", "CCB"),
    DemoPerson("440305200001011462", "赵霞", "13900139004", None, None),
    DemoPerson("440303196207171574", "吴斌", "13900139005", None, "loss_reported"),
    DemoPerson("440304198303111681", "孙婷", "13900139006", None, "active"),
    DemoPerson("440305199106281797", "徐明", "13900139007", "xu.ming@example.com", "issued"),
    DemoPerson("440106198704021822", "周燕", "13900139008", None, "active"),
    DemoPerson("440106197409191939", "王强", "13900139009", None, "replaced"),
    DemoPerson("440304199601012045", "林萍", "13900139010", None, "issued"),
)
