import os
import random
import tempfile
import threading
import time
import uuid
from contextlib import closing
from datetime import UTC, datetime

from odoo import SUPERUSER_ID, api
from odoo.exceptions import UserError
from odoo.orm.environments import Transaction
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import PhoneCase, make_pbx, no_cron_commits
from .test_cdr_database import cdr_db_values, connect, create_database, drop_database

QUEUE_LOG_TABLE = """
CREATE TABLE queue_log (
    id bigserial PRIMARY KEY, time timestamp, callid varchar(80), queuename varchar(256),
    agent varchar(80), event varchar(32), data1 varchar(100), data2 varchar(100),
    data3 varchar(100), data4 varchar(100), data5 varchar(100)
)
"""


def morning(t0, tag=""):
    """(seconds after t0, line without its time) of a queue's morning: A waits 25 s
    and 201 answers; B hangs up after 3 s; C times out after 60 s; G is still
    waiting when the log ends."""
    return [
        (-50, "NONE|support|PJSIP/201|ADDMEMBER|"),
        (0, f"{tag}A|support|NONE|ENTERQUEUE||0612345678|1"),
        (10, f"{tag}B|support|NONE|ENTERQUEUE||0612000002|2"),
        (13, f"{tag}B|support|NONE|ABANDON|1|2|3"),
        (20, f"{tag}C|support|NONE|ENTERQUEUE||0612000003|1"),
        (25, f"{tag}A|support|PJSIP/201|CONNECT|25|{t0}.9|3"),
        (80, f"{tag}C|support|NONE|EXITWITHTIMEOUT|1|1|60"),
        (85, f"{tag}A|support|PJSIP/201|COMPLETEAGENT|25|60|1"),
        (500, f"{tag}G|support|NONE|ENTERQUEUE||0612000007|1"),
    ]


def log_text(t0, lines):
    return "".join(f"{t0 + seconds}|{line}\n" for seconds, line in lines)


@tagged("post_install", "-at_install")
class TestQueueLogFile(PhoneCase):
    """A PBX reading Asterisk's queue log file, as its cron and button do."""

    def setUp(self):
        super().setUp()
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        self.path = os.path.join(folder.name, "queue_log")
        # An hour ago: complete, and G's open visit not given up yet.
        self.t0 = int(time.time()) - 3600
        self.write_log(log_text(self.t0, morning(self.t0)))
        self.pbx = make_pbx(self.env, queue_log_source="file", queue_log_path=self.path)

    def write_log(self, text, mode="w"):
        with open(self.path, mode, encoding="utf-8") as handle:
            handle.write(text)

    def calls(self):
        return self.Call.search([("pbx_id", "=", self.pbx.id)], order="call_start")

    def at(self, seconds):
        return datetime.fromtimestamp(self.t0 + seconds, UTC).replace(tzinfo=None)

    def test_calls_come_with_their_queue_visits_read_incrementally(self):
        # The listener delivered A already: the queue log adds its queue fields only.
        self.pbx._ingest(
            [
                {
                    "external_id": "A",
                    "direction": "incoming",
                    "status": "answered",
                    "from_number": "+31612345678",
                    "to_number": "+31207940100",
                    "extension": "201",
                    "start": self.at(0).replace(tzinfo=UTC).isoformat(),
                    "ring_seconds": 28,
                    "talk_seconds": 61,
                }
            ]
        )
        results = self.pbx.action_pull_queue_log_now()
        self.assertEqual(results["params"]["message"], "3 calls taken.")
        a, b, c = self.calls()
        queue = a.queue_id
        self.assertEqual((queue.name, queue.pbx_id), ("support", self.pbx))
        self.assertEqual(
            [
                (x.external_id, x.status, x.queue_result, x.queue_wait_seconds, x.queue_position)
                for x in (a, b, c)
            ],
            [
                ("A", "answered", "answered", 25, 1),
                ("B", "missed", "abandoned", 3, 2),
                ("C", "missed", "timeout", 60, 1),
            ],
        )
        self.assertEqual(b.queue_id | c.queue_id, queue)
        self.assertEqual((a.talk_seconds, a.ring_seconds, a.user_id), (61, 28, self.manager))
        self.assertEqual((b.client_number, b.call_start), ("+31612000002", self.at(10)))
        self.assertFalse(a.queue_answered_in_time, "25 s is beyond the queue's T of 20 s")
        self.assertTrue(b.queue_short_abandon)
        read_up_to = os.path.getsize(self.path)
        self.assertEqual(self.pbx.queue_log_offset, read_up_to)
        self.assertFalse(self.pbx.queue_log_error)

        # G is answered later: its lines held back come together with the new ones.
        self.write_log(
            log_text(
                self.t0,
                [
                    (530, f"G|support|PJSIP/201|CONNECT|30|{self.t0}.12|2"),
                    (600, "G|support|PJSIP/201|COMPLETECALLER|30|70|1"),
                ],
            ),
            mode="a",
        )
        [result] = self.pbx._pull_queue_log()
        g = self.Call.browse(result["call_id"])
        self.assertEqual(
            (g.external_id, g.status, g.queue_wait_seconds, g.talk_seconds, g.extension),
            ("G", "answered", 30, 70, "201"),
        )
        self.assertEqual(self.pbx._pull_queue_log(), [], "nothing new: nothing read twice")
        self.assertEqual(len(self.calls()), 4)

        # Rotated: a new file under the name is read from its start.
        os.remove(self.path)
        self.write_log(log_text(self.t0, [(700, "K|support|NONE|ENTERQUEUE||0612000011|1")]))
        self.write_log(log_text(self.t0, [(705, "K|support|NONE|ABANDON|1|1|5")]), mode="a")
        [result] = self.pbx._pull_queue_log()
        self.assertEqual(self.Call.browse(result["call_id"]).external_id, "K")

    def test_a_log_that_cannot_be_read(self):
        os.remove(self.path)
        with self.assertRaisesRegex(UserError, "No such file"):
            self.pbx.action_pull_queue_log_now()
        no_cron_commits(self)
        with mute_logger("odoo.addons.phone_call_accounting.models.phone_pbx_queue_log"):
            self.env["phone.pbx"]._cron_pull_queue_logs()
        self.assertIn("No such file", self.pbx.queue_log_error)
        self.assertFalse(self.pbx.queue_log_offset)
        self.pbx.queue_log_source = "none"
        with self.assertRaisesRegex(UserError, "Choose where"):
            self.pbx.action_pull_queue_log_now()

    def test_the_form_shows_the_queue_log(self):
        arch = self.env["phone.pbx"].get_views([(False, "form")])["views"]["form"]["arch"]
        for name in (
            "action_pull_queue_log_now",
            "queue_log_source",
            "queue_log_path",
            "queue_log_table",
            "queue_log_offset",
            "queue_log_watermark",
        ):
            self.assertIn(f'name="{name}"', arch)
        cron = self.env.ref("phone_call_accounting.ir_cron_phone_pull_queue_logs")
        self.assertEqual(cron.code, "model._cron_pull_queue_logs()")


@tagged("post_install", "-at_install")
class TestQueueLogTable(PhoneCase):
    """A realtime queue_log table in a real PostgreSQL database the test creates,
    read through the PBX's CDR database connection."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.database = f"pca_qlog_{uuid.uuid4().hex[:10]}"
        create_database(cls.database, QUEUE_LOG_TABLE)
        cls.addClassCleanup(drop_database, cls.database)
        cls.pbx = make_pbx(
            cls.env,
            kind="asterisk_ami",
            timezone="UTC",
            queue_log_source="table",
            **cdr_db_values(cls.database),
        )

    def insert(self, t0, lines):
        with closing(connect(self.database)) as cnx, cnx, cnx.cursor() as cr:
            for seconds, line in lines:
                callid, queue, agent, event, *data = line.split("|")
                data += [""] * (5 - len(data))
                cr.execute(
                    "INSERT INTO queue_log (time, callid, queuename, agent, event, data1, data2,"
                    " data3, data4, data5) VALUES (to_timestamp(%s) AT TIME ZONE 'UTC',"
                    " %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    [t0 + seconds, callid, queue, agent, event, *data[:5]],
                )

    def test_rows_after_the_watermark(self):
        tag = uuid.uuid4().hex[:6]
        t0 = int(time.time()) - 3600
        self.insert(t0, morning(t0, tag))
        results = self.pbx._pull_queue_log()
        calls = self.Call.browse([r["call_id"] for r in results]).sorted("call_start")
        self.assertEqual(
            [(c.external_id, c.queue_result, c.queue_wait_seconds) for c in calls],
            [(f"{tag}A", "answered", 25), (f"{tag}B", "abandoned", 3), (f"{tag}C", "timeout", 60)],
        )
        self.assertEqual(calls.queue_id.name, "support")
        self.assertEqual(
            self.pbx.queue_log_watermark, datetime.fromtimestamp(t0 + 500, UTC).replace(tzinfo=None)
        )
        self.assertEqual(self.pbx._pull_queue_log(), [], "nothing new")
        # G's end arrives: the pull takes the call's rows again, from its first.
        self.insert(t0, [(530, f"{tag}G|support|PJSIP/201|CONNECT|30|x|2")])
        self.insert(t0, [(600, f"{tag}G|support|PJSIP/201|COMPLETECALLER|30|70|1")])
        [result] = self.pbx._pull_queue_log()
        g = self.Call.browse(result["call_id"])
        self.assertEqual((g.status, g.queue_wait_seconds, g.queue_position), ("answered", 30, 1))
        self.assertFalse(self.pbx.queue_log_error)


@tagged("post_install", "-at_install")
class TestQueueLogTwoServers(TransactionCase):
    """Two servers' crons reading one PBX's queue log file at once, each in a
    transaction of its own that commits: the lines are taken once."""

    def setUp(self):
        super().setUp()
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        path = os.path.join(folder.name, "queue_log")
        t0 = int(time.time()) - 3600
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(log_text(t0, morning(t0)))
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            pbx = make_pbx(
                env,
                name=f"Queue log race {uuid.uuid4().hex[:6]}",
                queue_log_source="file",
                queue_log_path=path,
            )
            self.pbx_id, self.source = pbx.id, pbx._source()
        self.addCleanup(self.clean_up)

    def clean_up(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            calls = env["phone.call"].search([("source", "=", self.source)])
            partners = calls.partner_id.filtered("phone_caller_number")
            calls.unlink()
            partners.unlink()
            env["phone.queue"].search([("pbx_id", "=", self.pbx_id)]).unlink()
            env["phone.pbx"].browse(self.pbx_id).unlink()

    def test_two_crons_at_once_take_the_lines_once(self):
        barrier = threading.Barrier(2)
        taken, failures = [], []

        def server():
            try:
                with self.registry.cursor() as cr:
                    cr.transaction = Transaction(self.registry)
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    pbx = env["phone.pbx"].browse(self.pbx_id)
                    pbx.read(["queue_log_source"])  # the snapshot, as a cron's first query
                    barrier.wait(timeout=60)
                    time.sleep(random.uniform(0, 0.05))
                    results = pbx._pull_queue_log(skip_locked=True)
                    taken.append(None if results is None else len(results))
            except Exception as exc:  # noqa: BLE001 - reported by the test below
                failures.append(repr(exc))

        threads = [threading.Thread(target=server) for _server in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        self.assertFalse(failures)
        self.assertEqual(sorted(taken, key=str), [3, None], "one read them, the other skipped")
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            self.assertEqual(env["phone.call"].search_count([("source", "=", self.source)]), 3)
