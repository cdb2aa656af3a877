"""交办 (SPEC §6): a leader's ad-hoc assignment, from 三要素 to 复命, as the second kind of work (daemon.flows).

A 交办 is a Request of kind 交办 with a Task row (its elements), one Round row per round (轮次) and steps for
whoever holds it now: office staff to 核定, the leader to answer a 询问, the lead unit and each co-unit while
it is done, the leader on an extension, office staff (or the head) to 核报, the leader to 阅示. Every mail that
expects an answer carries the code of the step it belongs to.

Modules: reader (the keywords of a reply), elements (the 三要素 proposed and confirmed), register (a new
交办), dispatch (核定, 派发, 询问, 作废), progress (进展 … 延期), report (办结, 核报, 阅示, rounds), change (撤销,
更正), chase (临期提醒, 催办, 逾期督办, 视为办结), ledger (台账), table (who may do what, in which state).
"""

from __future__ import annotations

KIND = "交办"

# Request.state of a 交办 (SPEC §6.3)
VERIFYING = "jb_verifying"      # 待核定: office staff confirm the 三要素
CLARIFYING = "jb_clarifying"    # 待明确: the leader answers the office's 询问
DOING = "jb_doing"              # 办理中: the units do it; 逾期 is not a state
EXTENDING = "jb_extending"      # 延期待批: the leader decides on the lead unit's 申请延期
CHECKING = "jb_checking"        # 待核报: office staff (the head when the office is the lead unit) check the report
READING = "jb_reading"          # 待阅示: the leader reads the report
CLOSED = "jb_closed"            # 已办结
CANCELLED = "jb_cancelled"      # 已撤销 (撤销 by the leader, 作废 by the office)
STATE_LABELS = {VERIFYING: "待核定", CLARIFYING: "待明确", DOING: "办理中", EXTENDING: "延期待批",
                CHECKING: "待核报", READING: "待阅示", CLOSED: "已办结", CANCELLED: "已撤销"}
OPEN_STATES = (VERIFYING, CLARIFYING, DOING, EXTENDING, CHECKING, READING)
RUNNING = (DOING, EXTENDING)     # dispatched and not reported: chased against the deadline

# Step.kind of a 交办's steps: who holds it, each with a code of its own
VERIFY = "jb_verify"            # office staff: 核定单 (派发 / 询问 / 作废)
CLARIFY = "jb_clarify"          # the leader: the office's 询问
LEAD = "jb_lead"                # the lead unit (承办)
CO = "jb_co"                    # one co-unit (协办); decided (APPROVED_STEP) on 协办完毕
EXTEND = "jb_extend"            # the leader: 延期申请
COORDINATE = "jb_coordinate"    # office staff: a unit's 请求协调, until answered
REASSIGN = "jb_reassign"        # office staff: a lead unit's 申请改派 (派发 again / 维持)
CHECK = "jb_check"              # office staff or the head: 核报单
READ = "jb_read"                # the leader: 请阅示
STEP_LABELS = {VERIFY: "核定", CLARIFY: "询问领导", LEAD: "承办", CO: "协办", EXTEND: "延期审批",
               COORDINATE: "请求协调", REASSIGN: "申请改派", CHECK: "核报", READ: "阅示"}
UNIT_STEPS = (LEAD, CO)
