"""The clauses of 法释〔2017〕10号 that the assessment applies, in their own words.

The Chinese is the text as promulgated by the Supreme People's Court and the Supreme People's
Procuratorate (in force since 2017-06-01); the English is ours, a close working translation
for readers who do not read Chinese, never a substitute for the Chinese. Each clause has a
stable id (``art5.1.3`` is Article 5, paragraph 1, item 3) so a report, a test and a reader
all point at the same words. Clauses the rules do not decide (the "other circumstances"
catch-alls) are here too, because the assessment names them as left to the court.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

INTERPRETATION_ZH = "《最高人民法院、最高人民检察院关于办理侵犯公民个人信息刑事案件适用法律若干问题的解释》（法释〔2017〕10号）"
INTERPRETATION_EN = (
    "Interpretation of the Supreme People's Court and the Supreme People's Procuratorate on "
    "Several Issues Concerning the Application of Law in Handling Criminal Cases of "
    "Infringing Citizens' Personal Information (Fa Shi [2017] No. 10)"
)


@dataclass(frozen=True, slots=True)
class Clause:
    """One article, paragraph or item, with its official Chinese and our English."""

    id: str
    zh: str
    en: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "zh": self.zh, "en": self.en}


def _clauses(*items: Clause) -> Mapping[str, Clause]:
    return {clause.id: clause for clause in items}


CLAUSES: Mapping[str, Clause] = _clauses(
    Clause(
        "art5.1",
        "第五条第一款 非法获取、出售或者提供公民个人信息，具有下列情形之一的，应当认定为刑法"
        "第二百五十三条之一规定的“情节严重”：",
        "Art. 5 para. 1: Illegally obtaining, selling or providing citizens' personal "
        "information with any of the following is 'serious circumstances' under Art. 253-1 of "
        "the Criminal Law:",
    ),
    Clause(
        "art5.1.1",
        "（一）出售或者提供行踪轨迹信息，被他人用于犯罪的；",
        "(1) selling or providing whereabouts/trace information that others used to commit a "
        "crime;",
    ),
    Clause(
        "art5.1.2",
        "（二）知道或者应当知道他人利用公民个人信息实施犯罪，向其出售或者提供的；",
        "(2) selling or providing to someone while knowing or having reason to know that they "
        "use citizens' personal information to commit crimes;",
    ),
    Clause(
        "art5.1.3",
        "（三）非法获取、出售或者提供行踪轨迹信息、通信内容、征信信息、财产信息五十条以上的；",
        "(3) illegally obtaining, selling or providing 50 or more records of whereabouts/trace "
        "information, communication content, credit information or property information;",
    ),
    Clause(
        "art5.1.4",
        "（四）非法获取、出售或者提供住宿信息、通信记录、健康生理信息、交易信息等其他可能影响"
        "人身、财产安全的公民个人信息五百条以上的；",
        "(4) illegally obtaining, selling or providing 500 or more records of accommodation "
        "information, communication records, health and physiological information, transaction "
        "information or other personal information that may affect personal or property "
        "safety;",
    ),
    Clause(
        "art5.1.5",
        "（五）非法获取、出售或者提供第三项、第四项规定以外的公民个人信息五千条以上的；",
        "(5) illegally obtaining, selling or providing 5,000 or more records of personal "
        "information other than that in items 3 and 4;",
    ),
    Clause(
        "art5.1.6",
        "（六）数量未达到第三项至第五项规定标准，但是按相应比例合计达到有关数量标准的；",
        "(6) quantities below the standards of items 3 to 5 that, added up in the corresponding "
        "proportions, reach the quantity standard;",
    ),
    Clause(
        "art5.1.7",
        "（七）违法所得五千元以上的；",
        "(7) illegal gains of 5,000 yuan or more;",
    ),
    Clause(
        "art5.1.8",
        "（八）将在履行职责或者提供服务过程中获得的公民个人信息出售或者提供给他人，数量或者数额"
        "达到第三项至第七项规定标准一半以上的；",
        "(8) selling or providing to others personal information obtained while performing "
        "duties or providing services, where the quantity or amount reaches half of the "
        "standards of items 3 to 7;",
    ),
    Clause(
        "art5.1.9",
        "（九）曾因侵犯公民个人信息受过刑事处罚或者二年内受过行政处罚，又非法获取、出售或者"
        "提供公民个人信息的；",
        "(9) illegally obtaining, selling or providing personal information again after a "
        "criminal punishment, or within two years of an administrative penalty, for infringing "
        "citizens' personal information;",
    ),
    Clause(
        "art5.1.10",
        "（十）其他情节严重的情形。",
        "(10) other serious circumstances.",
    ),
    Clause(
        "art5.2",
        "第五条第二款 实施前款规定的行为，具有下列情形之一的，应当认定为刑法第二百五十三条之一"
        "第一款规定的“情节特别严重”：",
        "Art. 5 para. 2: The conduct of the preceding paragraph with any of the following is "
        "'especially serious circumstances' under Art. 253-1 para. 1 of the Criminal Law:",
    ),
    Clause(
        "art5.2.1",
        "（一）造成被害人死亡、重伤、精神失常或者被绑架等严重后果的；",
        "(1) causing the victim's death, serious injury, mental disorder, kidnapping or other "
        "severe consequences;",
    ),
    Clause(
        "art5.2.2",
        "（二）造成重大经济损失或者恶劣社会影响的；",
        "(2) causing major economic loss or a vile social influence;",
    ),
    Clause(
        "art5.2.3",
        "（三）数量或者数额达到前款第三项至第八项规定标准十倍以上的；",
        "(3) a quantity or amount of ten times or more the standards of items 3 to 8 of the "
        "preceding paragraph;",
    ),
    Clause(
        "art5.2.4",
        "（四）其他情节特别严重的情形。",
        "(4) other especially serious circumstances.",
    ),
    Clause(
        "art6.1",
        "第六条第一款 为合法经营活动而非法购买、收受本解释第五条第一款第三项、第四项规定以外的"
        "公民个人信息，具有下列情形之一的，应当认定为刑法第二百五十三条之一规定的“情节严重”：",
        "Art. 6 para. 1: Illegally buying or receiving, for lawful business activities, personal "
        "information other than that of Art. 5 para. 1 items 3 and 4, with any of the "
        "following, is 'serious circumstances' under Art. 253-1 of the Criminal Law:",
    ),
    Clause(
        "art6.1.1",
        "（一）利用非法购买、收受的公民个人信息获利五万元以上的；",
        "(1) a profit of 50,000 yuan or more made by using the information bought or received;",
    ),
    Clause(
        "art6.1.2",
        "（二）曾因侵犯公民个人信息受过刑事处罚或者二年内受过行政处罚，又非法购买、收受公民"
        "个人信息的；",
        "(2) buying or receiving personal information again after a criminal punishment, or "
        "within two years of an administrative penalty, for infringing citizens' personal "
        "information;",
    ),
    Clause(
        "art6.1.3",
        "（三）其他情节严重的情形。",
        "(3) other serious circumstances.",
    ),
    Clause(
        "art6.2",
        "第六条第二款 实施前款规定的行为，将购买、收受的公民个人信息非法出售或者提供的，定罪"
        "量刑标准适用本解释第五条的规定。",
        "Art. 6 para. 2: Where information bought or received as in the preceding paragraph is "
        "then illegally sold or provided, the standards of Art. 5 apply.",
    ),
    Clause(
        "art11.1",
        "第十一条第一款 非法获取公民个人信息后又出售或者提供的，公民个人信息的条数不重复计算。",
        "Art. 11 para. 1: Where personal information is illegally obtained and then sold or "
        "provided, its records are not counted twice.",
    ),
    Clause(
        "art11.2",
        "第十一条第二款 向不同单位或者个人分别出售、提供同一公民个人信息的，公民个人信息的条数"
        "累计计算。",
        "Art. 11 para. 2: Where the same personal information is sold or provided separately "
        "to different organisations or persons, its records are counted cumulatively.",
    ),
    Clause(
        "art11.3",
        "第十一条第三款 对批量公民个人信息的条数，根据查获的数量直接认定，但是有证据证明信息"
        "不真实或者重复的除外。",
        "Art. 11 para. 3: The number of records of personal information in bulk is the number "
        "seized, except where evidence proves records untrue or duplicated.",
    ),
)


def clause(clause_id: str) -> Clause:
    """The clause with this id; an unknown id is a programming error, not a user's."""
    return CLAUSES[clause_id]
