import uuid
from contextlib import closing

import psycopg2

from odoo.tests import TransactionCase, tagged
from odoo.tools import config, mute_logger

from .common import make_pbx

FREEPBX_CDR = """
CREATE TABLE cdr (
    calldate timestamp NOT NULL, clid varchar(80), src varchar(80), dst varchar(80),
    dcontext varchar(80), channel varchar(80), dstchannel varchar(80), lastapp varchar(80),
    lastdata varchar(80), duration integer, billsec integer, disposition varchar(45),
    amaflags integer, accountcode varchar(20), uniqueid varchar(32), userfield varchar(255),
    did varchar(50), recordingfile varchar(255), cnum varchar(80), cnam varchar(80),
    outbound_cnum varchar(80), outbound_cnam varchar(80), dst_cnam varchar(80),
    linkedid varchar(32), peeraccount varchar(80), sequence integer
)
"""


CDR_FUZZ_SEED = 20261129
CDR_FUZZ_CALLS = 150
DISPOSITIONS = ("ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION", "", None, "answered ")
# Timestamps no call can have; some of them Python cannot even represent.
CORRUPT_DATES = ("infinity", "-infinity", "20000-01-01", "1990-06-01", "2150-01-01")


def connect(dbname):
    return psycopg2.connect(
        dbname=dbname,
        host=config["db_host"] or None,
        port=config["db_port"] or None,
        user=config["db_user"] or None,
        password=config["db_password"] or None,
    )


def create_database(name, schema):
    """A PostgreSQL database of the test's own beside Odoo's, holding ``schema``."""
    with closing(connect("postgres")) as admin:
        admin.autocommit = True
        with admin.cursor() as cr:
            cr.execute(f'CREATE DATABASE "{name}"')
    with closing(connect(name)) as cnx, cnx, cnx.cursor() as cr:
        cr.execute(schema)


def drop_database(name):
    with closing(connect("postgres")) as admin:
        admin.autocommit = True
        with admin.cursor() as cr:
            cr.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cdr_db_values(name):
    """A PBX's fields that reach the database ``name`` as Odoo reaches its own."""
    return {
        "cdr_db_host": config["db_host"] or "",
        "cdr_db_port": int(config["db_port"] or 5432),
        "cdr_db_name": name,
        "cdr_db_user": config["db_user"] or "",
        "cdr_db_password": config["db_password"] or "",
    }


@tagged("post_install", "-at_install")
class TestCdrDatabase(TransactionCase):
    """Pulls from a real PostgreSQL CDR database that the test creates."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cdr_db = f"pca_cdr_{uuid.uuid4().hex[:10]}"
        create_database(cls.cdr_db, FREEPBX_CDR)
        cls.addClassCleanup(drop_database, cls.cdr_db)
        cls.env.company.country_id = cls.env.ref("base.nl")
        cls.pbx = make_pbx(
            cls.env,
            kind="cdr_database",
            trunk_patterns="^PJSIP/provider-",
            **cdr_db_values(cls.cdr_db),
            cdr_settle_seconds=120,
        )

    def setUp(self):
        super().setUp()
        # The CDR database lives outside the test transaction: start each test empty.
        with closing(connect(self.cdr_db)) as cnx, cnx, cnx.cursor() as cr:
            cr.execute("TRUNCATE cdr")
            # One "now" per test: rows said to end together must not straddle a second.
            cr.execute("SET TIME ZONE 'Europe/Amsterdam'")
            cr.execute("SELECT date_trunc('second', LOCALTIMESTAMP)")
            self.now_local = cr.fetchone()[0]

    def insert(
        self,
        ended_ago,
        duration,
        billsec,
        disposition,
        channel,
        dstchannel,
        linkedid,
        sequence,
        src="+31612345678",
        lastapp="Dial",
        recording="",
    ):
        """One leg that ended ``ended_ago`` seconds ago, in the PBX's local time."""
        with closing(connect(self.cdr_db)) as cnx, cnx, cnx.cursor() as cr:
            cr.execute("SET TIME ZONE 'Europe/Amsterdam'")
            cr.execute(
                "INSERT INTO cdr (calldate, src, dst, channel, dstchannel, lastapp, duration,"
                " billsec, disposition, uniqueid, linkedid, sequence, recordingfile)"
                " VALUES (%s::timestamp - %s * interval '1 second',"
                " %s, '0207940100', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    self.now_local,
                    ended_ago + duration,
                    src,
                    channel,
                    dstchannel,
                    lastapp,
                    duration,
                    billsec,
                    disposition,
                    f"{linkedid}.{sequence}",
                    linkedid,
                    sequence,
                    recording,
                ),
            )

    def calls(self):
        return self.env["phone.call"].search([("pbx_id", "=", self.pbx.id)], order="call_start")

    def test_incremental_pull_without_gaps_or_duplicates(self):
        # Call A: the queue rang 201 (no answer), then 202 answered.
        self.insert(600, 20, 0, "NO ANSWER", "PJSIP/provider-1", "PJSIP/201-1", "1795770000.1", 1)
        self.insert(
            540,
            80,
            60,
            "ANSWERED",
            "PJSIP/provider-1",
            "PJSIP/202-2",
            "1795770000.1",
            2,
            recording="in-202.wav",
        )
        # Call B: only a recorded message answered.
        self.insert(
            300,
            15,
            15,
            "ANSWERED",
            "PJSIP/provider-3",
            "",
            "1795770100.3",
            3,
            src="+31687654321",
            lastapp="Playback",
        )
        # Call C: ended 30 s ago, inside the settle delay.
        self.insert(
            30,
            40,
            35,
            "ANSWERED",
            "PJSIP/provider-4",
            "PJSIP/201-4",
            "1795770200.4",
            4,
            src="+31611111111",
        )
        results = self.pbx._pull_cdr_database()
        self.assertEqual([r["result"] for r in results], ["created", "created"])
        call_a, call_b = self.calls()
        self.assertEqual(
            (call_a.status, call_a.talk_seconds, call_a.extension), ("answered", 60, "202")
        )
        self.assertEqual(call_a.recording, "in-202.wav")
        self.assertEqual(call_b.status, "missed")
        self.assertEqual(call_b.client_number, "+31687654321")
        watermark = self.pbx.cdr_watermark
        self.assertTrue(watermark)

        self.assertEqual(self.pbx._pull_cdr_database(), [], "nothing new, nothing again")
        self.assertEqual(len(self.calls()), 2)

        # Call C settles (a shorter delay stands for time passing), and a later
        # leg of call A arrives (its transfer).
        self.pbx.cdr_settle_seconds = 10
        self.insert(150, 20, 20, "ANSWERED", "PJSIP/202-2", "PJSIP/203-5", "1795770000.1", 5)
        results = self.pbx._pull_cdr_database()
        self.assertEqual(sorted(r["result"] for r in results), ["created", "updated"])
        self.assertEqual(len(self.calls()), 3)
        self.assertGreater(self.pbx.cdr_watermark, watermark)

    def test_rows_ending_together_are_not_split_by_the_limit(self):
        self.insert(600, 30, 25, "ANSWERED", "PJSIP/provider-1", "PJSIP/201-1", "1795770000.1", 1)
        self.insert(600, 30, 25, "ANSWERED", "PJSIP/provider-2", "PJSIP/202-2", "1795770000.2", 2)
        self.insert(500, 30, 25, "ANSWERED", "PJSIP/provider-3", "PJSIP/203-3", "1795770000.3", 3)
        first = self.pbx._pull_cdr_database(limit=1)
        self.assertEqual(len(first), 2, "both rows of the same end second come along")
        second = self.pbx._pull_cdr_database(limit=1)
        self.assertEqual(len(second), 1)
        self.assertEqual(len(self.calls()), 3)

    @mute_logger("odoo.addons.phone_call_accounting.models.phone_pbx")
    def test_a_pbx_not_set_up_yet_stops_no_other_pull(self):
        self.insert(600, 30, 25, "ANSWERED", "PJSIP/provider-1", "PJSIP/201-1", "1795770000.1", 1)
        unset = make_pbx(
            self.env,
            name="CDR not set up",
            kind="cdr_database",
            cdr_db_host=False,
            cdr_db_name=False,
        )
        pulled = self.env["phone.pbx"].search([("kind", "=", "cdr_database")])
        self.assertEqual(pulled[0], unset, "the scheduled action comes to it first")
        with self.patch_commit():
            self.env["phone.pbx"]._cron_pull_cdr_databases()
        self.assertIn("Set the CDR database", unset.last_error)
        self.assertEqual(len(self.calls()), 1, "the PBX that is set up was pulled")

    @mute_logger("odoo.addons.phone_call_accounting.models.phone_pbx")
    def test_dropped_connection_retries_next_run(self):
        self.insert(600, 30, 25, "ANSWERED", "PJSIP/provider-1", "PJSIP/201-1", "1795770000.1", 1)
        self.pbx.cdr_db_name = "pca_cdr_does_not_exist"
        with self.patch_commit():
            self.env["phone.pbx"]._cron_pull_cdr_databases()
        self.assertIn("cannot connect", self.pbx.last_error)
        self.assertFalse(self.pbx.cdr_watermark)
        self.assertFalse(self.calls())
        self.pbx.cdr_db_name = self.cdr_db
        with self.patch_commit():
            self.env["phone.pbx"]._cron_pull_cdr_databases()
        self.assertEqual(len(self.calls()), 1)
        self.assertFalse(self.pbx.last_error)

    def patch_commit(self):
        from unittest.mock import patch

        return patch.object(type(self.env["ir.cron"]), "_commit_progress", lambda *a, **k: 1.0)

    def odd_text(self, rng):
        return rng.choice(
            (
                None,
                "",
                "홍길동 <010-1234-5678>",
                "".join(chr(rng.randrange(1, 32)) for _ in range(5)),
                "x" * 80,
                "".join(chr(rng.randrange(0x20, 0xD7FF)) for _ in range(rng.randrange(1, 40))),
                "+31612345678",
            )
        )

    def fuzz_rows(self, rng):
        """(rows, good, corrupt): rows to insert, linkedids that must land, that must not."""
        rows, good, corrupt = [], set(), set()
        for number in range(CDR_FUZZ_CALLS):
            linkedid = f"1795780000.{number}"
            kind = rng.randrange(4)
            duration = rng.randrange(0, 4000)
            leg = {
                "calldate": f"-{rng.randrange(200, 20000) + duration} seconds",
                "src": "+316" + str(rng.randrange(10**7, 10**8)),
                "dst": "0207940100",
                "channel": f"PJSIP/provider-{number}",
                "dstchannel": f"PJSIP/201-{number}",
                "lastapp": "Dial",
                "duration": duration,
                "billsec": rng.randrange(0, duration + 1),
                "disposition": "ANSWERED",
                "uniqueid": f"{linkedid}",
                "linkedid": linkedid,
                "sequence": number * 3,
            }
            rows.append(leg)
            if kind == 0:
                good.add(linkedid)
            elif kind == 1:
                # Odd but readable: the call lands or is rejected with a reason.
                leg.update(
                    src=self.odd_text(rng),
                    dst=self.odd_text(rng),
                    channel=self.odd_text(rng),
                    dstchannel=self.odd_text(rng),
                    lastapp=self.odd_text(rng),
                    disposition=rng.choice(DISPOSITIONS),
                    billsec=rng.choice((leg["billsec"], duration + 500, None)),
                    uniqueid=rng.choice((leg["uniqueid"], None, "")),
                )
            elif kind == 2:
                # A second leg of the call whose start is corrupt.
                corrupt.add(linkedid)
                rows.append(dict(leg, calldate=rng.choice(CORRUPT_DATES), sequence=number * 3 + 1))
            else:
                # A leg that ends before it starts.
                corrupt.add(linkedid)
                rows.append(
                    dict(
                        leg,
                        calldate="-300 seconds",
                        duration=-rng.randrange(1, 200),
                        sequence=number * 3 + 2,
                    )
                )
        return rows, good, corrupt

    def insert_rows(self, rows):
        with closing(connect(self.cdr_db)) as cnx, cnx, cnx.cursor() as cr:
            cr.execute("SET TIME ZONE 'Europe/Amsterdam'")
            for row in rows:
                relative = row["calldate"].endswith("seconds")
                cr.execute(
                    "INSERT INTO cdr (calldate, src, dst, channel, dstchannel, lastapp, duration,"
                    " billsec, disposition, uniqueid, linkedid, sequence)"
                    " VALUES (COALESCE(%(now)s + %(offset)s::interval, %(absolute)s::timestamp),"
                    " %(src)s, %(dst)s, %(channel)s, %(dstchannel)s, %(lastapp)s, %(duration)s,"
                    " %(billsec)s, %(disposition)s, %(uniqueid)s, %(linkedid)s, %(sequence)s)",
                    dict(
                        row,
                        now=self.now_local,
                        offset=row["calldate"] if relative else None,
                        absolute=None if relative else row["calldate"],
                    ),
                )

    def test_fuzzed_rows_never_escape_and_good_calls_land(self):
        import random

        rows, good, corrupt = self.fuzz_rows(random.Random(CDR_FUZZ_SEED))
        self.insert_rows(rows)
        last_partner = self.env["res.partner"].search([], order="id desc", limit=1).id
        with self.assertNoLogs("odoo", "ERROR"), self.patch_commit():
            self.env["phone.pbx"]._cron_pull_cdr_databases()
        stored = {call.external_id: call for call in self.calls()}
        self.assertLessEqual(good, set(stored), "every well-formed call lands")
        self.assertFalse(corrupt & set(stored), "no call is summarised from part of its legs")
        errors = self.pbx.last_error or ""
        for linkedid in corrupt:
            self.assertIn(f"call {linkedid}:", errors)
        self.assertNotIn("Traceback", errors)
        # Every call is either stored or named with its reason; none vanish.
        for number in range(CDR_FUZZ_CALLS):
            linkedid = f"1795780000.{number}"
            self.assertTrue(linkedid in stored or f"call {linkedid}" in errors, linkedid)
        created = self.env["res.partner"].search([("id", ">", last_partner)])
        self.assertTrue(created, "the fuzz creates partners for unknown callers")
        self.assertEqual(created.filtered(lambda p: not p.phone_call_count), created.browse())
        # The watermark moved past every row: the next pull takes nothing again.
        self.assertEqual(self.pbx._pull_cdr_database(), [])
