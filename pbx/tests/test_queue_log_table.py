"""Issue 23: the realtime ``queue_log`` table (QueueLogSource) on a real PostgreSQL.

The test creates a database of its own, with the table as Asterisk's
ast-db-manage creates it (``data1``..``data5``) or as older set-ups have it
(one ``data``), fills it with test_queue_log's morning and pulls it the way
the addon's cron does: by a watermark, up to a settle delay before now.
"""

import uuid
from contextlib import closing
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from pbx.asterisk.queue_log import QueueLogDatabaseError, QueueLogSource, parse_line
from pbx.tests.test_queue_log import EXPECTED, LOG

SPLIT_TABLE = """
CREATE TABLE queue_log (
    id bigserial PRIMARY KEY, time timestamp, callid varchar(80), queuename varchar(256),
    agent varchar(80), event varchar(32), data1 varchar(100), data2 varchar(100),
    data3 varchar(100), data4 varchar(100), data5 varchar(100)
)
"""
DATA_TABLE = """
CREATE TABLE queue_log (
    id serial PRIMARY KEY, time varchar(26), callid varchar(32), queuename varchar(32),
    agent varchar(32), event varchar(32), data varchar(255)
)
"""


def connect(dbname):
    return psycopg2.connect(dbname=dbname)


@pytest.fixture(scope="module")
def database():
    try:
        admin = connect("postgres")
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no PostgreSQL here: {exc}")
    name = f"pca_qlog_{uuid.uuid4().hex[:10]}"
    admin.autocommit = True
    with closing(admin), admin.cursor() as cr:
        cr.execute(f'CREATE DATABASE "{name}"')
    yield name
    with closing(connect("postgres")) as admin:
        admin.autocommit = True
        with admin.cursor() as cr:
            cr.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def table(database, ddl):
    with closing(connect(database)) as cnx, cnx, cnx.cursor() as cr:
        cr.execute("DROP TABLE IF EXISTS queue_log")
        cr.execute(ddl)


def insert(database, lines, zone_offset=timedelta(0), split=True):
    """Rows as Asterisk stores them: local time (or GMT), data split or whole."""
    with closing(connect(database)) as cnx, cnx, cnx.cursor() as cr:
        for line in lines:
            row = parse_line(line)
            moment = datetime.fromtimestamp(row.time, UTC).replace(tzinfo=None)
            stamp = (moment + zone_offset).strftime("%Y-%m-%d %H:%M:%S.%f")
            values = [stamp, row.callid, row.queue, row.agent, row.event]
            if split:
                data = [*row.data[:4], "|".join(row.data[4:])] + [""] * 5
                cr.execute(
                    "INSERT INTO queue_log (time, callid, queuename, agent, event,"
                    " data1, data2, data3, data4, data5) VALUES (%s, %s, %s, %s, %s,"
                    " %s, %s, %s, %s, %s)",
                    values + data[:5],
                )
            else:
                cr.execute(
                    "INSERT INTO queue_log (time, callid, queuename, agent, event, data)"
                    " VALUES (%s, %s, %s, %s, %s, %s)",
                    [*values, "|".join(row.data)],
                )


def source(database):
    return QueueLogSource(host=None, port=None, dbname=database, user=None, password=None)


def pull_all(database, since=None, **options):
    result = source(database).pull(since, **options)
    return result, sorted(result.calls, key=lambda item: item["start"])


@pytest.mark.parametrize("split", [True, False], ids=["data1-data5", "data"])
def test_the_table_gives_the_files_calls(database, split):
    table(database, SPLIT_TABLE if split else DATA_TABLE)
    insert(database, LOG.splitlines(), split=split)
    result, calls = pull_all(database, settle_seconds=60)
    assert calls == EXPECTED
    assert len(result.members) == 6
    newest = datetime.fromtimestamp(parse_line(LOG.splitlines()[-1]).time, UTC)
    assert result.watermark == newest.replace(tzinfo=None)
    again = source(database).pull(result.watermark, settle_seconds=60)
    assert (again.calls, again.members, again.watermark) == ([], [], None)


def test_local_times_are_read_in_the_pbxs_zone(database):
    table(database, SPLIT_TABLE)
    # Asia/Seoul is UTC+9 all year: the PBX writes its local time.
    insert(database, LOG.splitlines(), zone_offset=timedelta(hours=9))
    _result, calls = pull_all(database, timezone="Asia/Seoul")
    assert calls == EXPECTED


def test_a_call_is_whole_whichever_pull_saw_its_first_row(database):
    table(database, SPLIT_TABLE)
    lines = LOG.splitlines()
    cut = next(i for i, line in enumerate(lines) if "|D|support|NONE|ENTERQUEUE" in line)
    insert(database, lines[:cut])
    first, early = pull_all(database)
    # D left sales: its item says so for now; A..C are done.
    assert {item["external_id"]: item["queue"] for item in early}["D"] == "sales"
    insert(database, lines[cut:])
    _second, late = pull_all(database, since=first.watermark)
    # Re-read whole: D's both visits (4 + 20 s), G still waiting.
    assert {item["external_id"] for item in late} == {"D", "E", "F", "H"}
    assert next(i for i in late if i["external_id"] == "D") == EXPECTED[3]


def test_a_row_without_a_time_is_left_out(database):
    table(database, SPLIT_TABLE)
    insert(database, LOG.splitlines())
    with closing(connect(database)) as cnx, cnx, cnx.cursor() as cr:
        cr.execute("INSERT INTO queue_log (callid, queuename, event) VALUES ('A', 'x', 'ABANDON')")
    _result, calls = pull_all(database)
    assert calls == EXPECTED


def test_rows_within_the_settle_delay_wait(database):
    table(database, SPLIT_TABLE)
    now = datetime.now(UTC).timestamp()
    lines = [
        f"{now - 30:.0f}|R|support|NONE|ENTERQUEUE||0699999999|1",
        f"{now - 20:.0f}|R|support|NONE|ABANDON|1|1|10",
    ]
    insert(database, lines)
    result = source(database).pull(None, settle_seconds=60)
    assert (result.calls, result.watermark) == ([], None)
    assert [
        item["external_id"] for item in source(database).pull(None, settle_seconds=0).calls
    ] == ["R"]


def test_the_limit_takes_rows_of_the_same_moment_together(database):
    table(database, SPLIT_TABLE)
    insert(database, LOG.splitlines())
    seen, since = {}, None
    for _ in range(40):
        result = source(database).pull(since, limit=2)
        if result.watermark is None:
            break
        seen.update((item["external_id"], item) for item in result.calls)
        since = result.watermark
    # Each pull sees a call's rows whole: the last item of each call is right.
    assert sorted(seen.values(), key=lambda item: item["start"]) == EXPECTED


def test_a_table_without_the_columns_says_which(database):
    table(database, "CREATE TABLE queue_log (time timestamp, callid text)")
    with pytest.raises(QueueLogDatabaseError, match="has no agent, data, event, queuename"):
        source(database).pull(None)


def test_an_unreachable_database_is_a_clear_error():
    unreachable = QueueLogSource("127.0.0.1", 1, "x", "x", "x", connect_timeout=2)
    with pytest.raises(QueueLogDatabaseError, match="cannot connect to the queue log database"):
        unreachable.pull(None)
