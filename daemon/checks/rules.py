"""The table of 请示 rules: each a small function with an id, a severity, a reason and a suggestion; no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from daemon.checks.document import (CLOSING, GENRES, LEADER, REASON, REQUEST, SIGNER, Doc, flat,
                                    match_attachments)

RETURN, HINT = "退回", "提示"
TIAOLI = "《党政机关公文处理工作条例》"
GBT = "GB/T 9704-2012《党政机关公文格式》"


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    reason: str
    suggestion: str
    test: Callable[[Doc], str | None]  # the problem in one sentence, or None


RULES: dict[str, Rule] = {}


def rule(rule_id: str, severity: str, reason: str, suggestion: str):
    def register(fn: Callable[[Doc], str | None]) -> Callable[[Doc], str | None]:
        RULES[rule_id] = Rule(rule_id, severity, reason, suggestion, fn)
        return fn
    return register


@rule("classified", RETURN, "《保守国家秘密法》及" + TIAOLI + "：涉密公文应当通过机要渠道传递，不得通过普通电子邮件传递",
      "请撤回该件，按保密规定通过机要交通或机要通信渠道报送；非涉密件请删除密级标志后重新报送。")
def _classified(doc: Doc) -> str | None:
    return f"来文标有密级“{doc.classification}”，不能通过电子邮件办理" if doc.classification else None


@rule("unreadable", HINT, "办公室须对来文进行初审（" + TIAOLI + "第二十四条），附件无法读取时无法自动审查",
      "请将请示正文以 .docx 格式（或带文字层的 PDF）重新报送，便于审查和流转。")
def _unreadable(doc: Doc) -> str | None:
    return doc.unreadable or None


@rule("title", RETURN, TIAOLI + "第九条：标题由发文机关名称、事由和文种组成；请示标题应为“关于……的请示”",
      "将标题改为“关于＋事由＋的请示”，如“关于购置办公设备的请示”，居中排在主送机关之前。")
def _title(doc: Doc) -> str | None:
    t = doc.title
    if not t:
        return "未找到公文标题"
    if not t.endswith(GENRES):
        return f"标题“{t}”未标明文种"
    if not t.startswith("关于"):
        return f"标题“{t}”未采用“关于……的请示”的格式"
    return None


@rule("genre", RETURN, TIAOLI + "第八条、第十五条：请示与报告是不同文种，报告不得夹带请示事项；“申请”“请示报告”不是法定文种",
      "向上级请求指示或批准的事项，一律使用“请示”文种，标题改为“关于……的请示”，结尾用“妥否，请批示”。")
def _genre(doc: Doc) -> str | None:
    t = doc.title or ""
    if t.endswith("请示报告"):
        return f"标题“{t}”使用了不规范的文种“请示报告”"
    if t.endswith("申请报告") or t.endswith("申请"):
        return f"标题“{t}”使用了“申请”，不是法定公文文种"
    if t.endswith("报告"):
        return f"来文文种为“报告”（{t}），报告中夹带了请求批准的事项"
    return None


_ACTION = (r"(购置|购买|采购|召开|举办|举行|开展|申请|修缮|维修|改造|建设|新建|调整|增加|增设|设立|成立|招聘|聘用|"
           r"拨付|核拨|追加|变更|租赁|出租|处置|报废|组织|参加|派遣|选派|解决|撤销|合并|更换|安装|实施|启动|延长|"
           r"提高|划拨|借用|评选|表彰|列支|补充|配备|购建)")


@rule("one_matter", RETURN, TIAOLI + "第十五条：请示应当一文一事",
      "将不同事项拆分为几件请示分别报送，每件只请示一个事项，标题与正文围绕该事项展开。")
def _one_matter(doc: Doc) -> str | None:
    core = re.sub(r"^关于|的(请示报告|申请报告|请示|报告|申请)$", "", doc.title or "")
    if re.search(r"若干|几个|多项|等事项|等问题|等有关", core):
        return f"标题“{doc.title}”表明一文请示多个事项"
    parts = [p for p in re.split(r"和|及|与|以及|并|、|暨|，", core) if p]
    matters = [p for p in parts if re.match(_ACTION, p) and re.sub(_ACTION, "", p)]  # a verb with its own object
    if len(matters) >= 2:
        return f"标题“{doc.title}”包含{len(matters)}个事项（{'；'.join(matters)}）"
    if re.search(r"一并请示|一并报请|(另外|此外)还?(请|申请|请求|恳请)|同时还?(申请|请求)", flat(doc.body)):
        return "正文在主要事项之外另行请求批准其他事项"
    return None


def _recipients(doc: Doc) -> list[str]:
    return [p.strip() for p in re.split(r"[、，,；;/]|\s+和\s+", doc.recipient or "") if p.strip()]


@rule("recipient", RETURN, TIAOLI + "第十五条：请示原则上主送一个上级机关，不得多头主送",
      "在标题下顶格写明一个主送机关（如“集团公司：”），需要其他机关知悉的用抄送。")
def _recipient(doc: Doc) -> str | None:
    names = _recipients(doc)
    if not names:
        return "未写主送机关"
    if len(names) > 1:
        return f"主送了{len(names)}个机关（{'、'.join(names)}）"
    return None


@rule("to_leader", RETURN, TIAOLI + "第十五条：除上级机关负责人直接交办事项外，不得以本机关名义向上级机关负责人报送公文",
      "主送机关改为上级机关（如“集团公司：”），不写领导个人姓名或职务。")
def _to_leader(doc: Doc) -> str | None:
    personal = [n for n in _recipients(doc) if re.search(LEADER + r"$", n) or n.startswith("尊敬的")]
    return f"主送对象为领导个人（{'、'.join(personal)}）" if personal else None


@rule("copy_down", RETURN, TIAOLI + "第十五条：请示不得抄送下级机关",
      "删除对下级单位的主送或抄送；需要下级单位知悉的，待上级批复后另行通知。")
def _copy_down(doc: Doc) -> str | None:
    lower = [n for n in _recipients(doc) + re.split(r"[、，,；;。]", doc.cc)
             if n and (n.startswith("各") and not n.startswith("各位领导") or re.search(r"所属|下属|基层", n))]
    return f"主送或抄送了下级单位（{'、'.join(lower)}）" if lower else None


@rule("reason", HINT, "请示应写明请示缘由，分析问题实事求是、理由充分（参照" + TIAOLI + "第十九条）",
      "在正文开头写明请示的背景、依据和必要性，如“由于……，为……，”。")
def _reason(doc: Doc) -> str | None:
    return None if REASON.search(flat(doc.body)) else "正文未说明请示缘由"


@rule("request", RETURN, "请示应写明具体请求事项，主题突出、要求明确（参照" + TIAOLI + "第十九条）",
      "写明具体请求批准的事项，如“拟购置台式电脑20台，所需经费约12万元，从办公经费中列支”。")
def _request(doc: Doc) -> str | None:
    rest = CLOSING.sub("", flat(doc.body))
    return None if REQUEST.search(rest) else "正文未写明具体请求事项"


@rule("option", HINT, "请示提出多种方案时应提出倾向性意见，便于上级决策（参照" + TIAOLI + "第十五条）",
      "在列出的方案后写明本单位的倾向性意见，如“经研究，建议采用方案一”。")
def _option(doc: Doc) -> str | None:
    text = flat(doc.body)
    if re.search(r"方案[一二三1-3]|[两三几多]种方案|[两三几多]个方案|[甲乙]方案|[两三]种意见", text) \
            and not re.search(r"建议|倾向|拟采用|拟选|推荐|我们认为|拟按", text):
        return "正文列出了多种方案，但未提出倾向性意见"
    return None


@rule("closing", RETURN, "请示结尾应有请求批示的结束语，如“妥否，请批示”（公文写作惯例；报告结尾不得用请批示，请示结尾不用“特此报告”）",
      "正文末尾另起一段写“妥否，请批示。”或“以上请示如无不妥，请批准。”。")
def _closing(doc: Doc) -> str | None:
    if doc.closing:
        return None
    if "特此报告" in flat(doc.body):
        return "结尾使用了报告的结束语“特此报告”，缺少请求批示的结束语"
    return "缺少请求批示的结束语"


@rule("signature", RETURN, TIAOLI + "第九条：公文应署发文机关全称或者规范化简称",
      "在正文（或附件说明）之后右空四字写发文单位全称，其下写成文日期，并加盖印章。")
def _signature(doc: Doc) -> str | None:
    return None if doc.signature else "未见落款（发文单位署名）"


@rule("date", RETURN, TIAOLI + "第九条、" + GBT + "：成文日期署负责人签发的日期，用阿拉伯数字将年、月、日标全",
      "在落款下写成文日期，如“2026年11月27日”，不得晚于报送日期。")
def _date(doc: Doc) -> str | None:
    if not doc.date_text:
        return "未见成文日期"
    if doc.date_value is None:
        return f"成文日期“{doc.date_text}”不是有效日期"
    if doc.date_value > doc.today:
        return f"成文日期“{doc.date_text}”晚于今天"
    return None


@rule("date_format", HINT, GBT + "：成文日期用阿拉伯数字标全年、月、日，月、日不编虚位",
      "成文日期写作“2026年11月27日”“2026年1月5日”的形式。")
def _date_format(doc: Doc) -> str | None:
    return f"{doc.date_problem}（{doc.date_text}）" if doc.date_problem else None


@rule("contact", RETURN, "请示应当在附注处注明联系人的姓名和电话（原《国家行政机关公文处理办法》第十条，各级办公厅退文告知单沿用）",
      "在成文日期下一行居左空二字加圆括号注明“（联系人：张明，联系电话：0571-88001234）”。")
def _contact(doc: Doc) -> str | None:
    text = flat(doc.text)
    person = re.search(r"联系人[^\d]{0,4}?[:：]?[\u4e00-\u9fa5]{2,4}", text)
    phone = re.search(r"(电话|手机|联系方式|Tel|TEL)[:：]?[（(]?\d[\d\-－—()（）]{6,}"
                      r"|(?<!\d)(1[3-9]\d{9}|0\d{2,3}[-－—]\d{7,8})(?!\d)", text)
    if person and phone:
        return None
    return "未注明联系人和联系电话" if not (person or phone) else ("未注明联系人" if not person else "未注明联系电话")


@rule("attachment_missing", RETURN, GBT + "：附件说明所列附件应随文报送，做到附件齐全",
      "补齐附件说明所列的全部附件后重新报送，或删去未随文报送的附件名称。")
def _attachment_missing(doc: Doc) -> str | None:
    if doc.attached is None:
        return None
    missing, _ = match_attachments(doc.listed, doc.attached)
    return f"附件说明列出但未随文报送：{'；'.join(missing)}" if missing else None


@rule("attachment_unlisted", HINT, GBT + "：有附件的，应在正文下空一行注明附件顺序和名称",
      "在正文之后、落款之前写“附件：1.××××”，列出随文报送的全部附件名称。")
def _attachment_unlisted(doc: Doc) -> str | None:
    if doc.attached is None:
        return None
    _, extra = match_attachments(doc.listed, doc.attached)
    extra = [f for f in extra if not re.match(r"(?i)^(image|img)\d*\.\w+$", f)]
    return f"随文报送但附件说明未列出：{'；'.join(extra)}" if extra else None


@rule("signer", RETURN, TIAOLI + "第九条：上行文应当标注签发人姓名",
      "在版头发文字号右侧标注“签发人：×××”（本单位主要负责人）。")
def _signer(doc: Doc) -> str | None:
    return None if any(SIGNER.search(l) for l in doc.lines[:10]) else "上行文未标注签发人"
