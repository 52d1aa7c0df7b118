import random
from datetime import datetime, timedelta, timezone

from odoo.tests import new_test_user, tagged

from .common import PhoneCase

SEED = 20261129
STATUSES = ("answered", "answered", "missed", "busy", "failed")
DIRECTIONS = ("incoming", "incoming", "outgoing", "internal")
GROUPINGS = (
    ["call_date:day"],
    ["call_date:week"],
    ["call_date:month", "direction"],
    ["call_date:year"],
    ["status"],
    ["direction", "status"],
    ["user_id"],
    ["client_type_id", "call_date:quarter"],
    ["callback_state"],
    [],
)
DOMAINS = (
    [],
    [("call_date", ">=", "2026-10-20")],
    [("direction", "=", "incoming"), ("status", "in", ["answered", "missed"])],
    ["|", ("user_id", "=", False), ("call_date", "<", "2026-10-09")],
)


@tagged("post_install", "-at_install")
class TestDailyRollup(PhoneCase):
    """Grouped reads from the roll-up equal the same reads over the calls, whatever happened."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rng = random.Random(SEED)
        start = datetime(2026, 10, 1, 6, 0, tzinfo=timezone.utc)
        calls = []
        for n in range(120):
            direction = rng.choice(DIRECTIONS)
            status = rng.choice(STATUSES)
            calls.append(
                {
                    "external_id": f"rollup-{n}",
                    "direction": direction,
                    "status": status,
                    "from_number": rng.choice(("+31205550101", "+31612345678", "+31687000000"))
                    if direction == "incoming"
                    else "201",
                    "to_number": "+31207940100" if direction == "incoming" else "+31612345670",
                    "extension": rng.choice(("201", "202", "")),
                    "start": (start + timedelta(hours=7 * n + rng.randrange(6))).isoformat(),
                    "ring_seconds": rng.choice((0, 3, 12)),
                    "talk_seconds": rng.randrange(1, 900) if status == "answered" else 0,
                }
            )
        results = cls.env["phone.call"]._ingest_calls(calls)
        assert all(r["result"] == "created" for r in results), results

    def compare(self, model, aggregates):
        slow_model = model.with_context(phone_rollup=False)
        for groupby in GROUPINGS:
            if any(spec.split(":")[0] not in model._fields for spec in groupby):
                continue
            for domain in DOMAINS:
                fast = model._read_group(domain, groupby, aggregates)
                slow = slow_model._read_group(domain, groupby, aggregates)
                self.assertEqual(len(fast), len(slow), (groupby, domain))
                for got, want in zip(fast, slow, strict=True):
                    self.assert_same_row(got, want, (groupby, domain))

    def assert_same_row(self, got, want, where):
        for a, b in zip(got, want, strict=True):
            if isinstance(b, float) or isinstance(a, float):
                self.assertAlmostEqual(a or 0.0, b or 0.0, places=6, msg=where)
            else:
                self.assertEqual(a, b, where)

    def compare_all(self):
        self.compare(self.Call, ["__count", "duration:sum", "ring_duration:sum", "cost:sum"])
        self.compare(
            self.env["phone.call.report"],
            [
                "__count",
                "call_count:sum",
                "missed_count:sum",
                "not_called_back_count:sum",
                "answer_rate:avg",
                "ring_seconds_avg:avg",
                "talk_seconds_avg:avg",
                "talk_seconds:sum",
            ],
        )

    def test_rollup_equals_the_calls_through_updates_deletes_and_folds(self):
        self.compare_all()
        calls = self.Call.search([("external_id", "like", "rollup-%")])
        # Redelivery with a changed outcome, a call-back settled, a user moved, a delete.
        self.ingest(self.call(external_id="rollup-3", status="missed", talk_seconds=0))
        calls.filtered(lambda c: c.callback_state == "pending")[:5].write(
            {"callback_state": "done"}
        )
        calls[10:20].write({"user_id": self.agent.id})
        calls[30:35].unlink()
        self.compare_all()
        self.assertTrue(self.env["phone.call.daily"]._fold_changes())
        self.env.cr.execute("SELECT count(*) FROM phone_call_daily_change")
        self.assertEqual(self.env.cr.fetchone()[0], 0)
        self.compare_all()
        # Changes after a fold add up with the folded totals.
        calls[40:45].write({"status": "busy"})
        self.compare_all()

    def test_grouped_reads_come_from_the_rollup(self):
        """A change row no call backs is seen by the fast path only: it is what is read."""
        self.env.cr.execute(
            "INSERT INTO phone_call_daily_change (company_id, call_date, direction, status,"
            " callback_state, call_count) VALUES (%s, '2026-11-02', 'incoming', 'answered',"
            " 'none', 1000)",
            [self.company.id],
        )
        [(fast,)] = self.Call._read_group([("call_date", "=", "2026-11-02")], [], ["__count"])
        [(slow,)] = self.Call.with_context(phone_rollup=False)._read_group(
            [("call_date", "=", "2026-11-02")], [], ["__count"]
        )
        self.assertEqual(fast, slow + 1000)

    def test_questions_the_rollup_cannot_answer_read_the_calls(self):
        self.env.cr.execute(
            "INSERT INTO phone_call_daily_change (company_id, call_date, direction, status,"
            " callback_state, call_count) VALUES (%s, '2026-11-02', 'incoming', 'answered',"
            " 'none', 1000)",
            [self.company.id],
        )
        slow = self.Call.with_context(phone_rollup=False)
        for domain, groupby, aggregates in (
            ([("partner_id", "!=", False)], ["call_date:day"], ["__count"]),
            ([], ["partner_id"], ["__count"]),
            ([], ["call_date:day"], ["duration:avg"]),
            ([], ["extension"], ["__count"]),
        ):
            self.assertEqual(
                self.Call._read_group(domain, groupby, aggregates),
                slow._read_group(domain, groupby, aggregates),
                (domain, groupby, aggregates),
            )
        report = self.env["phone.call.report"]
        self.assertEqual(
            report._read_group([], ["call_hour"], ["__count"]),
            report.with_context(phone_rollup=False)._read_group([], ["call_hour"], ["__count"]),
        )

    def test_other_companies_calls_stay_out(self):
        other = self.env["res.company"].create({"name": "Other Phone Co"})
        self.env["phone.call"].with_company(other)._ingest_calls(
            [self.call(external_id="rollup-other", start="2026-11-02T09:00:00+00:00")]
        )
        user = new_test_user(
            self.env,
            "rollup_agent",
            groups="phone_call_accounting.group_phone_user",
            company_id=self.company.id,
            company_ids=[self.company.id],
        )
        as_user = self.Call.with_user(user).with_context(allowed_company_ids=[self.company.id])
        [(fast,)] = as_user._read_group([], [], ["__count"])
        self.assertEqual(fast, self.Call.search_count([("company_id", "=", self.company.id)]))
        self.assertEqual(
            as_user.formatted_read_group([], ["call_date:day"], ["__count"]),
            as_user.with_context(phone_rollup=False).formatted_read_group(
                [], ["call_date:day"], ["__count"]
            ),
        )
