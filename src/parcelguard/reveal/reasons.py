"""Every reason a reveal can be decided for, in Chinese and English.

The machine code goes to the audit log and the API; the sentences go to the person who asked
(a courier on a handheld reads Chinese) and to the investigator reading the log later.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

REASONS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        # allowed
        "assigned_courier": (
            "the waybill is assigned to you for delivery or pickup",
            "该运单已分配给您派送或揽收",
        ),
        "open_exception_at_site": (
            "the parcel has an open exception at your station",
            "该包裹在您的网点有未关闭的异常",
        ),
        "assigned_ticket": (
            "the waybill is on an open ticket assigned to you",
            "该运单在分配给您的未结工单上",
        ),
        "parcel_at_site": ("the parcel is physically at your site", "该包裹当前在您的场地"),
        "break_glass": (
            "break-glass access under an approved investigation case",
            "经批准的调查案件下的紧急调阅",
        ),
        # denied before the policies
        "bad_request": (
            "the request names an unknown field, purpose or channel",
            "请求中的字段、用途或渠道无效",
        ),
        "malformed_waybill": ("this is not a waybill number", "这不是有效的运单号"),
        "foreign_waybill": (
            "this is another carrier's waybill number",
            "这是其他快递公司的运单号",
        ),
        "unknown_waybill": ("no such waybill", "运单不存在"),
        "waybill_shredded": (
            "the recipient's data of this waybill was destroyed after the retention period",
            "该运单的收件人信息已在保存期满后销毁",
        ),
        "unknown_actor": ("unknown employee account", "未知员工账号"),
        "unknown_role": ("the account's role is not known to the policies", "账号角色未知"),
        # denied by the policies
        "no_matching_policy": (
            "no policy allows this: your work gives no reason to see this recipient's data",
            "没有策略允许：您的工作与该收件人信息无关",
        ),
        "account_inactive": ("the account belongs to someone who has left", "该账号的员工已离职"),
        "policy_error": (
            "the policies could not be evaluated for this request",
            "策略无法对该请求求值",
        ),
        # denied after the policies
        "vnum_pool_exhausted": (
            "no virtual number is free; try again later",
            "暂无可用隐私号，请稍后再试",
        ),
        "vnum_unavailable": (
            "a virtual number could not be bound",
            "无法分配隐私号",
        ),
        "device_not_registered": (
            "the device is not registered to you",
            "该终端未登记在您名下",
        ),
        "device_revoked": ("the device was revoked", "该终端已被停用"),
        "token_malformed": ("this is not a label code", "这不是面单二维码"),
        "token_invalid": (
            "the label code is not ours or was altered",
            "面单二维码不是本公司签发或已被篡改",
        ),
        "token_expired": ("the label code has expired", "面单二维码已过期"),
        "token_not_yet_valid": (
            "the label code is not valid yet (check the device clock)",
            "面单二维码尚未生效（请检查终端时间）",
        ),
        "token_replayed_other_device": (
            "this label was already scanned by another device",
            "该面单已被其他终端扫描",
        ),
        "audit_unavailable": (
            "the audit log cannot be written, so nothing is revealed",
            "审计日志无法写入，因此不予调阅",
        ),
        # the online guard
        "guard_contained": (
            "your account is suspended from personal-data access; the security team was told",
            "您的账号已被暂停调阅个人信息，已通知安全团队",
        ),
        "guard_step_up_refused": (
            "this needs a supervisor's approval, and it was not given",
            "此次调阅需要主管审批，未获批准",
        ),
        "guard_unavailable": (
            "the risk guard cannot check this now, so no phone or plaintext is handed out",
            "风控暂不可用，因此不提供电话或明文",
        ),
        # the legacy regime of the live simulation (the case's rights, never installed)
        "legacy_lookup": (
            "legacy nationwide lookup (the rights of the 2016 case)",
            "旧制度下的全国查询权限（2016年案件中的权限）",
        ),
    }
)


def reason_text(code: str, lang: str) -> str:
    english, chinese = REASONS.get(code, (code, code))
    return chinese if lang == "zh" else english
