"""Chinese and English for everything a person reads in the terminal.

The language comes from ``--lang``, else ``PARCELGUARD_LANG``, else the locale (``LANG``
starting with ``zh`` picks Chinese). Machine output (``--json``) is language-neutral.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

Lang = str
SUPPORTED = ("en", "zh")

MESSAGES: Mapping[str, Mapping[Lang, str]] = {
    "error": {"en": "error", "zh": "错误"},
    "init.done": {"en": "ParcelGuard is ready", "zh": "ParcelGuard 已就绪"},
    "init.created": {"en": "created", "zh": "新建"},
    "init.nothing": {"en": "nothing to create; already initialised", "zh": "无需新建，已初始化"},
    "doctor.ok": {"en": "no problems found", "zh": "未发现问题"},
    "doctor.problems": {"en": "problems", "zh": "问题"},
    "put.done": {
        "en": "stored {waybills} waybills over {days} day(s) with {data_keys_used} data key(s)",
        "zh": "已存入 {waybills} 个运单，跨 {days} 天，使用 {data_keys_used} 个数据密钥",
    },
    "put.reading": {"en": "reading and encrypting", "zh": "读取并加密"},
    "shred.done": {
        "en": "destroyed {keys_destroyed} data key(s) of days before {before}; "
        "{waybills_shredded} waybills are now unrecoverable",
        "zh": "已销毁 {before} 之前的 {keys_destroyed} 个数据密钥；{waybills_shredded} 个运单的个人信息已不可恢复",
    },
    "stats.title": {"en": "Vault", "zh": "数据保险库"},
    "label.waybills": {"en": "waybills", "zh": "运单总数"},
    "label.live_waybills": {"en": "live waybills", "zh": "在存运单"},
    "label.canary_waybills": {"en": "canary waybills (not real)", "zh": "诱饵运单（非真实）"},
    "label.live_canary_waybills": {"en": "live canary waybills", "zh": "在存诱饵运单"},
    "label.shredded_waybills": {"en": "shredded waybills", "zh": "已粉碎运单"},
    "label.data_keys": {"en": "live data keys", "zh": "有效数据密钥"},
    "label.destroyed_data_keys": {"en": "destroyed data keys", "zh": "已销毁数据密钥"},
    "label.first_day": {"en": "first day", "zh": "最早日期"},
    "label.last_day": {"en": "last day", "zh": "最近日期"},
    "label.max_nonce_budget_used_ratio": {
        "en": "nonce budget used (max)",
        "zh": "随机数预算使用率（最大）",
    },
    "label.retention_days": {"en": "retention (days)", "zh": "保留期（天）"},
    "detect.done": {
        "en": "read {events_read} events, scored {employees_scored} employees: "
        "{alerts} alerts written to {out}",
        "zh": "读取 {events_read} 条事件，评估 {employees_scored} 名员工：{alerts} 条告警已写入 {out}",
    },
    "detect.head": {"en": "alert|employee|score|reasons", "zh": "告警编号|员工|得分|原因"},
    "detect.feedback_done": {
        "en": "recorded; {decisions} analyst decisions so far",
        "zh": "已记录；累计分析员反馈 {decisions} 条",
    },
    "eval.done": {
        "en": "{scenarios_detected} of {scenarios} scenario accounts detected; precision at "
        "{k}: {precision_at_k}; false alerts per 10,000 employee-days: {false_per_10k}",
        "zh": "{scenarios} 个场景账号中检出 {scenarios_detected} 个；前 {k} 条精确率 "
        "{precision_at_k}；每万员工日误报 {false_per_10k} 条",
    },
}


# Chinese glosses of error and problem codes, appended to the one-line error in zh mode so the
# English line (stable, searchable) and a Chinese reading travel together.
ERROR_GLOSSES_ZH: Mapping[str, str] = {
    "failure": "操作失败",
    "bad_input": "输入有误",
    "no_folder": "不是事件表所在的文件夹",
    "missing_table": "事件文件夹缺少必需的表",
    "empty_table": "事件表没有任何行，无从检测",
    "bad_feedback": "反馈记录文件有损坏的行",
    "no_alerts": "尚无告警可供反馈，请先运行 detect run",
    "unknown_alert": "告警文件中没有这个告警编号",
    "bad_label": "反馈只能是 confirm（确认）或 dismiss（驳回）",
    "no_truth": "真值标签文件不存在",
    "bad_truth": "真值标签文件无法读取",
    "bad_records": "批次中有错误记录，未写入任何数据",
    "store_unavailable": "数据库不可用",
    "guard_unavailable": "风控状态存储不可用（Redis 或数据库），不提供电话或明文",
    "key_problem": "密钥有问题",
    "internal_error": "内部错误",
    "interrupted": "已中断，未写入半截数据",
    "missing": "缺少必填字段",
    "not_text": "字段必须是文本",
    "too_long": "字段过长",
    "malformed_waybill_no": "运单号格式不符",
    "malformed_id": "编号格式不符",
    "unknown_category": "未知的品类",
    "malformed_adcode": "行政区划代码应为6位数字",
    "unknown_adcode": "行政区划代码的省级前缀不存在",
    "malformed_time": "时间格式不符（ISO 8601）",
    "naive_time": "时间缺少时区偏移",
    "future_time": "时间在未来（寄件方时钟偏差？）",
    "invalid_name": "姓名无效",
    "invalid_phone": "不是有效的中国大陆手机号",
    "duplicate_waybill": "运单号重复",
    "shredded_day": "该日期的数据已粉碎",
    "past_retention": "已超过保留期",
    "malformed_csv": "CSV 格式错误",
    "wrong_field_count": "字段数与表头不符（行被截断？）",
    "malformed_json": "JSON 格式错误（行被截断？）",
    "not_an_object": "不是 JSON 对象",
    "log_integrity": "审计日志自相矛盾：记录或哈希被改动、删除或移动",
    "witness_alarm": "见证方告警：日志历史与已联署的不一致",
    "field_unreadable": "字段无法解密（已粉碎或被篡改）",
    "vnum_pool_exhausted": "隐私号已用尽，请补充号码",
    "device_not_registered": "终端未登记在该员工名下",
    "device_revoked": "终端已停用",
    "label_font_missing": "缺少中文字体，无法生成 PNG",
    "token_malformed": "不是面单二维码",
    "token_invalid": "面单二维码不是本公司签发或已被篡改",
    "token_expired": "面单二维码已过期",
    "token_not_yet_valid": "面单二维码尚未生效（检查时钟）",
    "token_replayed_other_device": "该面单已被其他终端扫描",
    # label render
    "unknown_waybill": "运单不在保险库中",
    "shredded_waybill": "该运单已粉碎，收件人信息已不存在，无可打印",
    "canary_waybill": "这是诱饵记录，诱饵永不打印面单、永不派送",
    # reading an events folder (the exchange format)
    "ambiguous_table": "同一张表既有 Parquet 又有 CSV，无法判断用哪一个",
    "bad_csv": "CSV 文件无法读取",
    "not_utf8": "CSV 文件不是 UTF-8 编码（交换格式要求 UTF-8）",
    "bad_parquet": "Parquet 文件无法读取",
    "no_header": "CSV 文件没有表头",
    "unreadable": "文件无法读取",
    "missing_column": "表缺少必需的列",
    "duplicate_column": "表中有重复的列",
    "bad_type": "列的类型无法转换为规范要求的类型",
    "bad_value": "值不在该列允许的取值范围内",
    "empty_value": "必填列中有空值",
    "no_offset": "时间缺少 UTC 偏移（时区）",
    "bad_time": "不是带偏移的 ISO 8601 时间",
    "bad_date": "不是 2016-10-03 形式的日期",
    "bad_bool": "不是 true 或 false",
    "duplicate_id": "编号重复",
    "dangling_reference": "引用了不存在的记录",
}


def gloss(code: str, lang: Lang) -> str | None:
    """A Chinese reading of an error code, or None in English or for unknown codes."""
    return ERROR_GLOSSES_ZH.get(code) if lang == "zh" else None


def pick_language(explicit: str | None = None, env: Mapping[str, str] | None = None) -> Lang:
    env = os.environ if env is None else env
    for candidate in (explicit, env.get("PARCELGUARD_LANG")):
        if candidate:
            return "zh" if candidate.lower().startswith("zh") else "en"
    locale = env.get("LC_ALL") or env.get("LANG") or ""
    return "zh" if locale.lower().startswith("zh") else "en"


def t(key: str, lang: Lang, **values: object) -> str:
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    return (entry.get(lang) or entry["en"]).format(**values)
