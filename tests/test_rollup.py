import random
from datetime import datetime, timedelta, timezone
from unittest import mock

from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from ..pbx import measures, rollup
from ..pbx.measures import INCOMING, Average, Count, Rate
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
    ["queue_id"],
    ["queue_id", "user_id"],
    [],
)
# Measures defined in the one place by a test, over statuses the calls have.
BUSY = "{row}.status = 'busy'"
ADDED = (
    Count("busy_count", "Busy Calls", BUSY),
    Rate("busy_rate", "Busy Rate", BUSY, among=INCOMING, stored_as=("busy_in", "incoming_count")),
    Average("busy_ring_avg", "Busy Ring", "ring_seconds", BUSY, ("busy_ring", "busy_ring_n")),
)
SQL_GROUPINGS = (
    (),
    ("call_date",),
    ("direction", "status"),
    ("user_id",),
    ("client_type_id", "pbx_id"),
    ("queue_id", "call_date"),
)
DOMAINS = (
    [],
    [("call_date", ">=", "2026-10-20")],
    [("direction", "=", "incoming"), ("status", "in", ["answered", "missed"])],
    ["|", ("user_id", "=", False), ("call_date", "<", "2026-10-09")],
    [("queue_id", "!=", False)],
)
QUEUE_RESULTS = ("answered", "answered", "answered", "abandoned", "timeout", "other")


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
        # Two out of three incoming calls queued, in two queues, every way out of one.
        cls.queues = cls.env["phone.queue"].create(
            [{"name": "rollup-sales"}, {"name": "rollup-support", "short_abandon_seconds": 8}]
        )
        incoming = cls.env["phone.call"].browse(r["call_id"] for r in results)
        for n, call in enumerate(incoming.filtered(lambda c: c.direction == "incoming")):
            if n % 3:
                call.write(
                    {
                        "queue_id": cls.queues[n % 2].id,
                        "queue_result": rng.choice(QUEUE_RESULTS),
                        "queue_wait_seconds": rng.choice((0, 3, 5, 8, 19, 20, 21, 45)),
                        "queue_position": rng.randrange(1, 5),
                    }
                )

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
        """Every aggregate the roll-up gives, so every measure defined (pbx/measures.py);
        for the report also those it does not map (a maximum), read from the calls."""
        for model in (self.Call, self.env["phone.call.report"]):
            unmapped = []
            if model._name == "phone.call.report":
                defined = {f"{m.name}:{m.aggregate}" for m in measures.MEASURES}
                unmapped = sorted(defined - model._rollup_aggregates.keys())
                self.assertEqual(
                    unmapped, [f"{m.name}:max" for m in measures.MEASURES if not m.sums()]
                )
            else:
                defined = {f"{name}:sum" for name in measures.CALL_TOTALS}
            self.assertEqual(model._rollup_aggregates.keys() - {"__count"}, defined - set(unmapped))
            self.compare(model, list(model._rollup_aggregates))
            if unmapped:
                # Asked with the others, the whole read comes from the calls: same figures.
                self.compare(model, [*model._rollup_aggregates, *unmapped])

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
        # Calls moved between queues, out of one, into one; a queue's thresholds changed.
        calls = calls.exists()
        queued = calls.filtered("queue_id")
        queued[:4].write({"queue_id": self.queues[1].id})
        queued[4:6].write({"queue_id": False, "queue_result": False, "queue_wait_seconds": 0})
        calls.filtered(lambda c: c.direction == "outgoing")[:3].write(
            {"queue_id": self.queues[0].id, "queue_result": "abandoned", "queue_wait_seconds": 4}
        )
        self.queues[0].write({"service_level_seconds": 5, "short_abandon_seconds": 19})
        self.compare_all()
        self.assertTrue(self.env["phone.call.daily"]._fold_changes())
        self.env.cr.execute("SELECT count(*) FROM phone_call_daily_change")
        self.assertEqual(self.env.cr.fetchone()[0], 0)
        self.compare_all()
        # Changes after a fold add up with the folded totals.
        calls[40:45].write({"status": "busy"})
        self.compare_all()

    @mute_logger("odoo.addons.phone_call_accounting.models.phone_call_daily")
    def test_a_measure_added_in_one_place_is_in_both_paths(self):
        """Measures added to pbx/measures.py alone reach the report's view and the
        roll-up (rebuilt, as an upgrade does), which keep the same figures
        through updates, deletes and folds."""
        report, daily = self.env["phone.call.report"], self.env["phone.call.daily"]
        self.assertEqual(self.compare_sql(measures.MEASURES), len(SQL_GROUPINGS))
        with mock.patch.object(measures, "MEASURES", measures.check(measures.MEASURES + ADDED)):
            report.init()
            daily.init()
            self.assertIn("busy_ring_n", rollup.statements().columns)
            self.assertEqual(self.compare_sql(ADDED), len(SQL_GROUPINGS))
            [(busy,)] = self.sql("SELECT SUM(busy_count) FROM phone_call_report")
            self.assertEqual(busy, self.Call.search_count([("status", "=", "busy")]))
            calls = self.Call.search([("external_id", "like", "rollup-%")], order="id")
            calls[:12].write({"status": "busy"})
            calls[12:20].write({"ring_seconds": 7})
            calls[20:24].unlink()
            self.compare_sql(ADDED)
            daily._fold_changes()
            calls[30:40].write({"direction": "incoming", "status": "busy"})
            self.compare_sql(ADDED)
        # The measures as defined again: the roll-up is rebuilt to them.
        report.init()
        daily.init()
        [(columns,)] = self.sql(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'phone_call_daily_total'::regclass"
            " AND attnum > 0 AND NOT attisdropped"
        )
        self.assertEqual(columns, len(rollup.statements().columns))
        self.compare_all()

    def test_an_upgrade_with_the_same_measures_keeps_the_rollup(self):
        self.env.cr.execute(
            "INSERT INTO phone_call_daily_change (company_id, call_date, direction, status,"
            " callback_state, call_count) VALUES (%s, '2026-11-02', 'incoming', 'answered',"
            " 'none', 1000)",
            [self.company.id],
        )
        self.env["phone.call.daily"].init()
        [(count,)] = self.sql(
            "SELECT count(*) FROM phone_call_daily_change WHERE call_count = 1000"
        )
        self.assertEqual(count, 1, "not rebuilt: the row no call backs is still there")

    def sql(self, query):
        self.env.flush_all()
        self.env.cr.execute(query)
        return self.env.cr.fetchall()

    def compare_sql(self, defined):
        """Each measure of ``defined`` grouped by SQL_GROUPINGS, read from the report's
        view and from the roll-up's tables as the grouped reads use them; the number
        of groupings compared."""
        # A maximum has no roll-up sums: the grouped reads of compare_all read it from the calls.
        defined = [m for m in defined if m.sums()]
        for groupby in SQL_GROUPINGS:
            keys = ", ".join(groupby)
            grouped = f"GROUP BY {keys} " if groupby else ""
            ordered = f" ORDER BY {keys}" if groupby else ""
            view = ", ".join(f"{m.aggregate.upper()}({m.name})" for m in defined)
            kept = ", ".join(
                f"SUM({m.sums()[0]})"
                if len(m.sums()) == 1
                else f"SUM({m.sums()[0]})::numeric / NULLIF(SUM({m.sums()[1]}), 0)"
                for m in defined
            )
            selected = ", ".join(filter(None, [keys, view]))
            through_view = self.sql(f"SELECT {selected} FROM phone_call_report {grouped}{ordered}")
            selected = ", ".join(filter(None, [keys, kept]))
            through_rollup = self.sql(
                f"SELECT {selected} FROM (SELECT * FROM phone_call_daily_total"
                " UNION ALL SELECT * FROM phone_call_daily_change) d"
                f" {grouped}HAVING SUM(call_count) != 0{ordered}"
            )
            self.assertEqual(len(through_view), len(through_rollup), groupby)
            width = len(groupby)
            for got, want in zip(through_rollup, through_view, strict=True):
                self.assert_same_row(
                    (*got[:width], *(float(v) if v is not None else v for v in got[width:])),
                    (*want[:width], *(float(v) if v is not None else v for v in want[width:])),
                    groupby,
                )
        return len(SQL_GROUPINGS)

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
            ([], ["call_date:day"], ["talk_seconds:avg"]),
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
