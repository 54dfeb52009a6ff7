"""The landing page's words in each language (zh_CN default, en). Channel pages use Babel catalogues."""

from __future__ import annotations

LANGUAGES = ("zh_CN", "en")

_TEXT: dict[str, dict[str, str]] = {
    "zh_CN": {
        "title": "社会保障卡服务平台",
        "subtitle": "Social Security Card Platform",
        "running": "运行中",
        "database": "数据库",
        "environment": "运行环境",
        "security": "安全模块",
        "docs": "接口文档",
        "interactive": "交互式文档（Swagger UI）",
        "reference": "参考文档（ReDoc）",
        "status": "服务状态",
        "health": "健康检查",
        "metrics": "监控指标（Prometheus）",
        "channels": "已启用的接口",
        "scope": "业务范围",
        "scope_text": "人员与社保卡、卡交易密码与查询密码、国家密钥体系、社会保险记录、医保结算。",
        "demo": "演示账号（仅开发环境）",
        "demo_not_loaded": "演示数据尚未加载：运行 sscard demo load。",
        "staff": "工作人员登录",
        "username": "用户名",
        "password": "密码",
        "role": "角色",
        "region": "地区",
        "persons": "演示参保人（虚构）",
        "name": "姓名",
        "id_number": "身份证号",
        "initial_password": "初始查询密码（身份证号后 8 位，X 作 0）",
        "footer": "个人信息依法加密保存并脱敏显示（《个人信息保护法》）。",
        "switch": "English",
        "pages": "服务网站",
        "portal": "持卡人服务网站（查询密码登录）",
        "counter": "柜面业务系统（柜员、柜面主管、银行柜员）",
        "employer": "单位网上服务（统一社会信用代码登录）",
        "console": "安全管理控制台（安全管理员、密钥保管员、审计员、系统管理员；需动态验证码）",
        "staff_where": "在柜面业务系统、安全管理控制台或接口",
        "otp": "动态验证码",
        "uscc": "统一社会信用代码",
        "employer_name": "单位名称",
        "otp_hint": "sscard demo otp 用户名",
        "employers": "演示单位（虚构）：统一社会信用代码为账号，无初始密码，"
        "在“忘记密码”页选择“参保单位”申请临时密码（演示环境短信写入 var/outbox/sms.jsonl）",
    },
    "en": {
        "title": "Social Security Card Platform",
        "subtitle": "社会保障卡服务平台",
        "running": "running",
        "database": "database",
        "environment": "environment",
        "security": "security module",
        "docs": "API documentation",
        "interactive": "Interactive docs (Swagger UI)",
        "reference": "Reference (ReDoc)",
        "status": "Service status",
        "health": "Health check",
        "metrics": "Metrics (Prometheus)",
        "channels": "API groups served",
        "scope": "What this platform does",
        "scope_text": "People and cards, card PIN and query password, the national key system, "
        "insurance records, medical settlement.",
        "demo": "Demo logins (development only)",
        "demo_not_loaded": "Demo data is not loaded yet: run sscard demo load.",
        "staff": "Staff logins",
        "username": "username",
        "password": "password",
        "role": "role",
        "region": "region",
        "persons": "Demo insured persons (fictitious)",
        "name": "name",
        "id_number": "citizen ID",
        "initial_password": "initial query password (last 8 of the ID, X as 0)",
        "footer": "Personal data is encrypted at rest and shown masked (PIPL).",
        "switch": "中文",
        "pages": "Web pages",
        "portal": "Cardholder portal (sign in with the query password)",
        "counter": "Counter console (counter clerks, supervisors, bank clerks)",
        "employer": "Employer services (sign in with the unified social credit code)",
        "console": "Security console (security officers, key custodians, auditors, administrators; one-time code)",
        "staff_where": "at the counter console, the security console or",
        "otp": "one-time code",
        "uscc": "unified social credit code",
        "employer_name": "employer",
        "otp_hint": "sscard demo otp USERNAME",
        "employers": "Demo employers (fictitious): the credit code is the account; no initial password: ask for a "
        'temporary one on the portal\'s "Forgot password" page as "An employer" (in the demo the SMS lands in '
        "var/outbox/sms.jsonl)",
    },
}


def text_for(language: str) -> dict[str, str]:
    return _TEXT.get(language, _TEXT["zh_CN"])


_ROLES: dict[str, dict[str, str]] = {
    "zh_CN": {
        "counter_clerk": "柜员",
        "counter_supervisor": "柜面主管",
        "bank_clerk": "银行柜员",
        "security_officer": "安全管理员",
        "key_custodian": "密钥保管员",
        "auditor": "审计员",
        "administrator": "系统管理员",
        "hotline_operator": "12345 热线话务员",
    },
    "en": {
        "counter_clerk": "counter clerk",
        "counter_supervisor": "counter supervisor",
        "bank_clerk": "bank clerk",
        "security_officer": "security officer",
        "key_custodian": "key custodian",
        "auditor": "auditor",
        "administrator": "administrator",
        "hotline_operator": "12345 hotline operator",
    },
}


def role_names(language: str) -> dict[str, str]:
    return _ROLES.get(language, _ROLES["zh_CN"])
