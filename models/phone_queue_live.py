from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from ..pbx import numbers
from ..pbx.measures import ANSWERED_IN_TIME, QUEUE_ABANDONED, QUEUE_ANSWERED, SHORT_ABANDON, on

# What the wallboard lists at most: it is read from across the room.
MAX_CALLERS_LISTED = 12
MAX_CALLS_LISTED = 60
# A caller who left, a call that ended: kept this long so that late events of
# them change nothing, then removed.
KEEP_ENDED = timedelta(minutes=10)
# Waiting callers and calls in progress without news for this long are gone
# (an event was lost and no snapshot came since): removed.
DEFAULT_STALE_HOURS = 4
# The service level's amber band below its target, in percentage points.
AMBER_POINTS = 10.0

_TODAY = """
SELECT c.queue_id,
       count(*) AS offered,
       count(*) FILTER (WHERE {answered}) AS answered,
       count(*) FILTER (WHERE {abandoned}) AS abandoned,
       count(*) FILTER (WHERE {short}) AS short_abandoned,
       count(*) FILTER (WHERE {answered} AND {in_time}) AS answered_in_time,
       COALESCE(sum(c.queue_wait_seconds) FILTER (WHERE {answered}), 0) AS answered_wait
  FROM phone_call c
  JOIN unnest(%s::int[], %s::date[]) AS today(company_id, day)
    ON today.company_id = c.company_id AND c.call_date = today.day
 WHERE c.queue_id = ANY(%s)
 GROUP BY c.queue_id
""".format(
    answered=on(QUEUE_ANSWERED, "c"),
    abandoned=on(QUEUE_ABANDONED, "c"),
    short=on(SHORT_ABANDON, "c"),
    in_time=on(ANSWERED_IN_TIME, "c"),
)


def _iso(moment):
    return f"{fields.Datetime.to_string(moment).replace(' ', 'T')}Z" if moment else False


def service_level_state(level, target):
    """green at or above the target, amber within AMBER_POINTS below it, red under."""
    if level is None:
        return "none"
    if level >= target:
        return "good"
    return "warn" if level >= target - AMBER_POINTS else "bad"


def answer_speed_state(asa, threshold):
    """green within the queue's T, amber within twice T, red beyond."""
    if asa is None:
        return "none"
    if asa <= threshold:
        return "good"
    return "warn" if asa <= 2 * threshold else "bad"


class PhoneQueue(models.Model):
    """The queue's live state (callers waiting, members seen) and the wallboard."""

    _inherit = "phone.queue"

    member_ids = fields.One2many(
        "phone.queue.member",
        "queue_id",
        string="Members Seen",
        readonly=True,
        groups="phone_call_accounting.group_phone_manager",
        context={"active_test": False},
    )
    caller_ids = fields.One2many(
        "phone.queue.caller",
        "queue_id",
        string="Callers Waiting",
        domain=[("left_at", "=", False)],
        readonly=True,
        groups="phone_call_accounting.group_phone_manager",
    )

    @api.model
    def wallboard_data(self):
        """Everything the wallboard shows, for the user's companies, in one answer.

        Managers only. Per active queue: callers waiting now and since when,
        agents by status, today's offered, answered, abandoned, service level
        and average speed of answer (coloured against the queue's targets);
        and the calls ringing or talking now.
        """
        if not self.env.user.has_group("phone_call_accounting.group_phone_manager"):
            raise AccessError(self.env._("Only phone managers see the wallboard."))
        companies = self.env.companies
        queues = self.sudo().search([("company_id", "in", companies.ids)])
        now = fields.Datetime.now()
        today = self._wallboard_today(queues)
        callers = self.env["phone.queue.caller"].sudo()
        waiting = callers.search_fetch(
            [("queue_id", "in", queues.ids), ("left_at", "=", False)],
            ["queue_id", "number", "name", "position", "joined_at"],
            order="joined_at, id",
        )
        by_queue = {}
        for caller in waiting:
            by_queue.setdefault(caller.queue_id.id, []).append(caller)
        members = (
            self.env["phone.queue.member"]
            .sudo()
            .search_fetch(
                [("queue_id", "in", queues.ids)],
                ["queue_id", "member", "extension", "name", "status", "status_since"],
                order="extension, member, id",
            )
        )
        members_by_queue = {}
        for member in members:
            members_by_queue.setdefault(member.queue_id.id, []).append(member)
        result = []
        for queue in queues:
            queue_callers = by_queue.get(queue.id, [])
            queue_members = members_by_queue.get(queue.id, [])
            figures = today.get(queue.id, {})
            agents = dict.fromkeys(("available", "on_call", "ringing", "paused", "unavailable"), 0)
            for member in queue_members:
                agents[member.status] += 1
            result.append(
                {
                    "id": queue.id,
                    "name": queue.name,
                    "pbx": queue.pbx_id.name or "",
                    "service_level_seconds": queue.service_level_seconds,
                    "target_service_level": queue.target_service_level,
                    "waiting": len(queue_callers),
                    "longest_since": _iso(queue_callers[0].joined_at) if queue_callers else False,
                    "callers": queue._wallboard_callers(queue_callers[:MAX_CALLERS_LISTED]),
                    "agents": agents,
                    "members": [
                        {
                            "id": member.id,
                            "name": member.name or member.extension or member.member,
                            "extension": member.extension or "",
                            "status": member.status,
                            "since": _iso(member.status_since),
                        }
                        for member in queue_members
                    ],
                    **queue._wallboard_figures(figures),
                }
            )
        return {"now": _iso(now), "queues": result, "calls": self._wallboard_calls(companies)}

    @api.model
    def _wallboard_today(self, queues):
        """{queue id: today's counts} in one query, "today" in each company's call zone."""
        if not queues:
            return {}
        days = {}
        for company in queues.company_id:
            zone = ZoneInfo(company._phone_timezone_name())
            days[company.id] = datetime.now(zone).date()
        self.env["phone.call"].flush_model(
            ["queue_id", "queue_result", "queue_wait_seconds", "call_date", "company_id"]
        )
        self.env.cr.execute(SQL(_TODAY, list(days), list(days.values()), queues.ids))
        return {
            row[0]: dict(
                zip(
                    (
                        "offered",
                        "answered",
                        "abandoned",
                        "short_abandoned",
                        "answered_in_time",
                        "answered_wait",
                    ),
                    row[1:],
                    strict=True,
                )
            )
            for row in self.env.cr.fetchall()
        }

    def _wallboard_figures(self, figures):
        self.ensure_one()
        offered = figures.get("offered", 0)
        answered = figures.get("answered", 0)
        counted = offered - figures.get("short_abandoned", 0)
        level = 100.0 * figures.get("answered_in_time", 0) / counted if counted > 0 else None
        asa = figures.get("answered_wait", 0) / answered if answered else None
        return {
            "offered": offered,
            "answered": answered,
            "abandoned": figures.get("abandoned", 0),
            "service_level": round(level, 1) if level is not None else False,
            "service_level_state": service_level_state(level, self.target_service_level),
            "answer_speed": round(asa) if asa is not None else False,
            "answer_speed_state": answer_speed_state(asa, self.service_level_seconds),
        }

    def _wallboard_callers(self, callers):
        """A queue's waiting callers as the calls list shows them: the number
        as the company's country writes it, the client's name when the PBX
        gave none."""
        self.ensure_one()
        country = (
            self.pbx_id._country_code() if self.pbx_id else self.company_id._phone_country_code()
        )
        Partner = self.env["res.partner"]
        classified = {
            caller.id: numbers.classify(caller.number or "", country) for caller in callers
        }
        found = Partner._phone_match(Partner._phone_wanted(classified.values()), self.company_id)
        rows = []
        for caller in callers:
            number = classified[caller.id]
            partner = found.get(number.e164) if number.e164 else None
            rows.append(
                {
                    "id": caller.id,
                    "number": number.display_in(country),
                    "name": caller.name or (partner.sudo().display_name if partner else ""),
                    "since": _iso(caller.joined_at),
                }
            )
        return rows

    @api.model
    def _wallboard_calls(self, companies):
        """The calls ringing or talking now: who (the agent) with whom, since when."""
        calls = (
            self.env["phone.call.live"]
            .sudo()
            .search_fetch(
                [("company_id", "in", companies.ids), ("state", "!=", "ended")],
                [
                    "pbx_id",
                    "company_id",
                    "call_id",
                    "extension",
                    "state",
                    "from_number",
                    "to_number",
                    "started_at",
                    "state_since",
                ],
                order="started_at, id",
                limit=MAX_CALLS_LISTED,
            )
        )
        users = {}
        partners = {}
        Partner = self.env["res.partner"]
        for pbx in calls.pbx_id:
            pbx_calls = calls.filtered(lambda call, pbx=pbx: call.pbx_id == pbx)
            users[pbx.id] = (
                self.env["res.users"]
                .sudo()
                ._phone_users_by_extension(
                    list({call.extension for call in pbx_calls if call.extension}), pbx.company_id
                )
            )
            country = pbx._country_code()
            others = {}
            for call in pbx_calls:
                number = numbers.classify(self._wallboard_other(call), country)
                others[call.id] = number
            found = Partner._phone_match(Partner._phone_wanted(others.values()), pbx.company_id)
            for call_id, number in others.items():
                partner = found.get(number.e164) if number.e164 else None
                colleague = (
                    users[pbx.id].get(number.raw) if number.kind == numbers.INTERNAL else None
                )
                if partner:
                    partners[call_id] = partner.sudo().display_name
                elif colleague:
                    partners[call_id] = colleague.sudo().name
                elif number.kind == numbers.EXTERNAL:
                    partners[call_id] = number.display_in(country)
                else:
                    partners[call_id] = number.raw or ""
        rows = []
        for call in calls:
            agent = users.get(call.pbx_id.id, {}).get(call.extension)
            rows.append(
                {
                    "id": call.id,
                    "state": call.state,
                    "extension": call.extension,
                    "agent": agent.sudo().name if agent else "",
                    "other": partners.get(call.id, ""),
                    "outgoing": call.from_number == call.extension,
                    "since": _iso(call.state_since),
                    "started": _iso(call.started_at),
                }
            )
        return rows

    @api.model
    def _wallboard_other(self, call):
        """The other party's number of a call on a desk phone."""
        if call.from_number and call.from_number != call.extension:
            return call.from_number
        return call.to_number or ""

    @api.model
    def _cron_clean_live_state(self):
        """Remove callers who left and calls that ended a while ago, and the waiting
        callers and calls in progress without news for hours (a lost event):
        rows another transaction holds are left for the next run (SKIP LOCKED)."""
        now = fields.Datetime.now()
        hours = (
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("phone_call_accounting.live_stale_hours")
        )
        stale = now - timedelta(
            hours=int(hours) if hours and hours.isdigit() else DEFAULT_STALE_HOURS
        )
        ended = now - KEEP_ENDED
        removed = 0
        for table, condition in (
            ("phone_queue_caller", SQL("left_at < %s OR event_at < %s", ended, stale)),
            (
                "phone_call_live",
                SQL("(state = 'ended' AND event_at < %s) OR event_at < %s", ended, stale),
            ),
        ):
            self.env.cr.execute(
                SQL(
                    """
                    DELETE FROM %(table)s WHERE id IN (
                        SELECT id FROM %(table)s WHERE %(condition)s
                         FOR UPDATE SKIP LOCKED
                    )
                    """,
                    table=SQL.identifier(table),
                    condition=condition,
                )
            )
            removed += self.env.cr.rowcount
        if removed:
            self.env["phone.queue.caller"].invalidate_model()
            self.env["phone.call.live"].invalidate_model()
            group = self.env.ref("phone_call_accounting.group_phone_manager").sudo()
            group._bus_send("phone_call_accounting/live", {"pbx_id": False, "queue_ids": []})
        return removed
