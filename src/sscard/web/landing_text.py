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
    },
}


def text_for(language: str) -> dict[str, str]:
    return _TEXT.get(language, _TEXT["zh_CN"])
