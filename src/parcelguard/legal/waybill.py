"""Which category a leaked waybill record falls in, by default, and why.

A waybill record in a leaked file is a recipient's name, mobile number and delivery address
(sometimes the goods too). The interpretation does not name waybills, so the category is a
judgement; the investigator can change it for a case (``leak report --category``), and the
report prints the reason below next to the figure it changes.
"""

from __future__ import annotations

from parcelguard.legal.case import Category

DEFAULT_WAYBILL_CATEGORY: Category = Category.GENERAL
"""General personal information (Art. 5 para. 1 item 5, standard 5,000 records).

Name, mobile number and address are the identity and contact information that Art. 1 lists
as personal information; they are not among the kinds items 3 and 4 name (trace, communication
content, credit, property; accommodation, communication records, health, transaction). Item 4's
"other information that may affect personal or property safety" is read narrowly, as
information comparable to those it lists, and court practice on waybill data is divided:
judgments have counted plain waybill data (name, phone, address) against item 5, and others
under item 4, mostly where the record also reveals what was bought (goods, value) and the
buyer used that to target fraud; no guiding case (指导性案例) settles it. Where the category is uncertain, the default is the one less
severe for the accused; the investigator switches to ``transaction`` or ``other_sensitive``
when the evidence shows the goods were part of what was sold and used.
"""

DEFAULT_WAYBILL_CATEGORY_REASON: dict[str, str] = {
    "en": (
        "A waybill record (recipient name, mobile number, address) is identity and contact "
        "information, not a kind named in Art. 5 para. 1 items 3 or 4, so it is counted as "
        "general personal information (item 5, 5,000 records; 2,500 when obtained in one's "
        "duties). Court practice is divided where the record also shows the goods and was used "
        "to target fraud: then item 4 (transaction or other safety-relevant information, 500) "
        "may apply; change the category when the evidence shows that."
    ),
    "zh": (
        "快递运单记录（收件人姓名、手机号码、地址）属于身份识别和联系方式信息，不在第五条第一款第三项、"
        "第四项列举的种类之内，按第五项“其他公民个人信息”计算（五千条；履职中获得的减半为二千五百条）。"
        "如记录同时显示所购商品并被用于针对性诈骗，司法实践存在认定为第四项（交易信息或其他可能影响"
        "人身、财产安全的信息，五百条）的做法；证据显示如此时，请调整类别。"
    ),
}
