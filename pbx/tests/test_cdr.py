"""Master.csv rows written the way cdr_csv.c and the cdr_custom sample do."""

import io

import pytest

from pbx.asterisk.cdr import CdrError, parse_cdr, parse_cdr_file, read_rows

TRUNKS = [r"^PJSIP/provider-"]


def csv_row(*fields):
    """One cdr_csv line: strings quoted (quotes doubled), integers bare."""
    return (
        ",".join(
            str(value) if isinstance(value, int) else '"' + value.replace('"', '""') + '"'
            for value in fields
        )
        + "\n"
    )


def base(src, dst, channel, dstchannel, lastapp, start, answer, end, billsec, disposition, clid=""):
    """The 16 columns every cdr_csv row has (duration from the times)."""
    duration = int(end[-2:]) - int(start[-2:]) + 60 * (int(end[-5:-3]) - int(start[-5:-3]))
    return (
        "",
        src,
        dst,
        "from-internal",
        clid,
        channel,
        dstchannel,
        lastapp,
        "",
        start,
        answer,
        end,
        duration,
        billsec,
        disposition,
        "DOCUMENTATION",
    )


# loguniqueid=yes, loguserfield=yes: the cdr.conf sample's settings (18 columns).
STANDARD = csv_row(
    *base(
        "+31612345678",
        "0201234567",
        "PJSIP/provider-00000001",
        "PJSIP/201-00000002",
        "Dial",
        "2026-07-01 10:00:00",
        "2026-07-01 10:00:08",
        "2026-07-01 10:02:13",
        125,
        "ANSWERED",
        clid='"Jan" <+31612345678>',
    ),
    "1782900000.1",
    "/var/spool/asterisk/monitor/in-1782900000.1.wav",
)


def test_standard_layout_incoming_answered_in_local_time():
    result = parse_cdr([STANDARD], TRUNKS, timezone="Europe/Amsterdam")
    assert result.errors == []
    assert result.calls == [
        {
            "external_id": "1782900000.1",
            "direction": "incoming",
            "status": "answered",
            "from_number": "+31612345678",
            "to_number": "0201234567",
            "extension": "201",
            "first_extension": "201",
            "forwarded": False,
            "transferred": False,
            # 10:00 in Amsterdam summer time is 08:00 UTC.
            "start": "2026-07-01T08:00:00+00:00",
            "end": "2026-07-01T08:02:13+00:00",
            "ring_seconds": 8,
            "talk_seconds": 125,
            "recording": "/var/spool/asterisk/monitor/in-1782900000.1.wav",
            "hangup_cause": None,
        }
    ]


def test_usegmtime_means_utc():
    (call,) = parse_cdr([STANDARD], TRUNKS).calls
    assert call["start"] == "2026-07-01T10:00:00+00:00"


def new_columns(*fields, uniqueid, linkedid, sequence, userfield=""):
    """newcdrcolumns=yes: uniqueid, userfield, peeraccount, linkedid, sequence."""
    return csv_row(*fields, uniqueid, userfield, "", linkedid, sequence)


LINKED = "1782900100.10"
RING_GROUP = [
    # 201 calls ring group 401: both members ring from 10:00:00, 203 answers.
    new_columns(
        *base(
            "201",
            "401",
            "PJSIP/201-0000000a",
            "PJSIP/202-0000000b",
            "Dial",
            "2026-07-01 10:00:00",
            "",
            "2026-07-01 10:00:06",
            0,
            "NO ANSWER",
        ),
        uniqueid=LINKED,
        linkedid=LINKED,
        sequence=20,
    ),
    new_columns(
        *base(
            "201",
            "401",
            "PJSIP/201-0000000a",
            "PJSIP/203-0000000c",
            "Dial",
            "2026-07-01 10:00:00",
            "2026-07-01 10:00:06",
            "2026-07-01 10:01:06",
            60,
            "ANSWERED",
        ),
        uniqueid=LINKED,
        linkedid=LINKED,
        sequence=21,
    ),
    # An unrelated call between them: grouping is by linkedid, not by order.
    new_columns(
        *base(
            "202",
            "*97",
            "PJSIP/202-0000000d",
            "",
            "VoiceMailMain",
            "2026-07-01 10:00:30",
            "2026-07-01 10:00:30",
            "2026-07-01 10:00:50",
            20,
            "ANSWERED",
        ),
        uniqueid="1782900130.20",
        linkedid="1782900130.20",
        sequence=22,
    ),
]


def test_new_columns_layout_groups_rows_by_linkedid():
    result = parse_cdr(RING_GROUP, TRUNKS)
    assert result.errors == []
    group, voicemail = result.calls
    assert group["external_id"] == LINKED
    assert (group["direction"], group["status"]) == ("internal", "answered")
    assert (group["from_number"], group["to_number"]) == ("201", "401")
    # Both members rang together: the one that answered is no forward.
    assert (group["extension"], group["first_extension"], group["forwarded"]) == (
        "203",
        "203",
        False,
    )
    assert (group["ring_seconds"], group["talk_seconds"]) == (6, 60)
    # Checking one's own voicemail: the dialplan answered, nobody else did.
    assert voicemail["status"] == "missed"
    assert voicemail["talk_seconds"] == 0


def test_linkedid_and_peeraccount_swapped_are_recognised():
    row = csv_row(
        *base(
            "201",
            "202",
            "PJSIP/201-00000001",
            "PJSIP/202-00000002",
            "Dial",
            "2026-07-01 10:00:00",
            "2026-07-01 10:00:03",
            "2026-07-01 10:00:13",
            10,
            "ANSWERED",
        ),
        "1782900000.5",
        "",
        "1782900000.4",
        "",
        3,
    )
    result = parse_cdr([row], TRUNKS)
    assert result.errors == []
    assert result.calls[0]["external_id"] == "1782900000.4"


def custom_row(*fields):
    """The cdr_custom.conf sample mapping: clid first, accountcode moved back."""
    (
        accountcode,
        src,
        dst,
        dcontext,
        clid,
        channel,
        dstchannel,
        lastapp,
        lastdata,
        start,
        answer,
        end,
        duration,
        billsec,
        disposition,
        amaflags,
    ) = fields[:16]
    uniqueid, userfield, sequence = fields[16:]
    return csv_row(
        clid,
        src,
        dst,
        dcontext,
        channel,
        dstchannel,
        lastapp,
        lastdata,
        start,
        answer,
        end,
        str(duration),
        str(billsec),
        disposition,
        amaflags,
        accountcode,
        uniqueid,
        userfield,
        sequence,
    )


def test_cdr_custom_clid_first_layout():
    rows = [
        # An outgoing call that rang out unanswered: billsec must not count.
        custom_row(
            *base(
                "201",
                "0612345678",
                "PJSIP/201-00000001",
                "PJSIP/provider-00000002",
                "Dial",
                "2026-07-01 10:00:00",
                "",
                "2026-07-01 10:00:30",
                12,
                "NO ANSWER",
                clid='"Piet" <201>',
            ),
            "1782900000.1",
            "",
            1,
        ),
    ]
    result = parse_cdr(rows, TRUNKS)
    assert result.errors == []
    (call,) = result.calls
    assert (call["direction"], call["status"]) == ("outgoing", "missed")
    assert (call["from_number"], call["to_number"], call["extension"]) == (
        "201",
        "0612345678",
        "201",
    )
    assert (call["ring_seconds"], call["talk_seconds"]) == (30, 0)


def test_seventeen_columns_with_userfield_instead_of_uniqueid():
    row = csv_row(
        *base(
            "201",
            "202",
            "PJSIP/201-00000001",
            "PJSIP/202-00000002",
            "Dial",
            "2026-07-01 10:00:00",
            "",
            "2026-07-01 10:00:05",
            0,
            "BUSY",
        ),
        "sales",
    )
    result = parse_cdr([row], TRUNKS)
    assert result.errors == []
    (call,) = result.calls
    assert call["status"] == "busy"
    assert call["external_id"] == "PJSIP/201-00000001@2026-07-01T10:00:00+00:00"
    assert call["recording"] is None


def single(disposition, dstchannel="PJSIP/202-00000002", lastapp="Dial", billsec=0, answer=""):
    return csv_row(
        *base(
            "201",
            "202",
            "PJSIP/201-00000001",
            dstchannel,
            lastapp,
            "2026-07-01 10:00:00",
            answer,
            "2026-07-01 10:00:40",
            billsec,
            disposition,
        ),
        "1782900000.1",
        "",
    )


@pytest.mark.parametrize(
    ("row", "status", "talk"),
    [
        (single("ANSWERED", billsec=30, answer="2026-07-01 10:00:10"), "answered", 30),
        # The dialplan answered (Playback/VoiceMail, no party B): not a person.
        (
            single(
                "ANSWERED",
                dstchannel="",
                lastapp="Playback",
                billsec=40,
                answer="2026-07-01 10:00:00",
            ),
            "missed",
            0,
        ),
        (
            single("ANSWERED", lastapp="VoiceMail", billsec=40, answer="2026-07-01 10:00:00"),
            "missed",
            0,
        ),
        (single("NO ANSWER", billsec=15), "missed", 0),
        (single("BUSY", billsec=3), "busy", 0),
        (single("FAILED"), "failed", 0),
        (single("CONGESTION"), "failed", 0),
        # A disposition this parser does not know cannot say what happened.
        (single("UNKNOWN-THING", billsec=9), "unknown", 0),
    ],
)
def test_disposition_rules(row, status, talk):
    (call,) = parse_cdr([row], TRUNKS).calls
    assert (call["status"], call["talk_seconds"]) == (status, talk)


def test_forwarded_and_transferred_from_several_legs():
    linked = "1782900200.1"
    rows = [
        new_columns(
            *base(
                "+31612345678",
                "0201234567",
                "PJSIP/provider-00000001",
                "PJSIP/201-00000002",
                "Dial",
                "2026-07-01 10:00:00",
                "",
                "2026-07-01 10:00:15",
                0,
                "NO ANSWER",
            ),
            uniqueid=linked,
            linkedid=linked,
            sequence=1,
        ),
        # Forward on no answer to 202, who answers...
        new_columns(
            *base(
                "+31612345678",
                "0201234567",
                "PJSIP/provider-00000001",
                "PJSIP/202-00000003",
                "Dial",
                "2026-07-01 10:00:15",
                "2026-07-01 10:00:20",
                "2026-07-01 10:01:20",
                60,
                "ANSWERED",
            ),
            uniqueid=linked,
            linkedid=linked,
            sequence=2,
        ),
        # ...and transfers the caller to 203.
        new_columns(
            *base(
                "+31612345678",
                "0201234567",
                "PJSIP/provider-00000001",
                "PJSIP/203-00000004",
                "Dial",
                "2026-07-01 10:01:20",
                "2026-07-01 10:01:25",
                "2026-07-01 10:02:25",
                60,
                "ANSWERED",
            ),
            uniqueid=linked,
            linkedid=linked,
            sequence=3,
        ),
    ]
    (call,) = parse_cdr(rows, TRUNKS).calls
    assert (call["direction"], call["status"]) == ("incoming", "answered")
    assert (call["extension"], call["first_extension"]) == ("202", "201")
    assert (call["forwarded"], call["transferred"]) == (True, True)
    assert (call["ring_seconds"], call["talk_seconds"]) == (20, 120)


def test_bad_rows_are_reported_with_line_numbers():
    lines = [
        (
            "accountcode,src,dst,dcontext,clid,channel,dstchannel,lastapp,lastdata,start,answer,end,"
            "duration,billsec,disposition,amaflags,uniqueid,userfield\n"
        ),
        STANDARD,
        '"","201","202","only","five"\n',
        "\n",
        single("ANSWERED").replace("2026-07-01 10:00:40", "yesterday"),
        single("ANSWERED").replace("1782900000.1", "not-an-id"),
        single("ANSWERED").replace(",0,", ",-4,", 1),
        # A quoted newline inside lastdata: the next row's number moves on.
        STANDARD.replace('"Dial"', '"Dial\nwith a newline"'),
        single("BUSY").replace(",40,", ",forty,", 1),
    ]
    result = parse_cdr(io.StringIO("".join(lines), newline=""), TRUNKS)
    assert [str(error) for error in result.errors] == [
        "line 3: 5 columns; Master.csv rows have 16 to 21",
        "line 5: end 'yesterday' is not a date and time",
        "line 6: uniqueid 'not-an-id' is not an Asterisk unique id",
        "line 7: billsec '-4' is negative",
        "line 10: duration 'forty' is not a number of seconds",
    ]
    assert all(isinstance(error, CdrError) for error in result.errors)
    assert len(result.calls) == 1  # lines 2 and 8 are the same call


def test_end_before_start_is_an_error():
    row = single("ANSWERED").replace("2026-07-01 10:00:40", "2026-07-01 09:00:00")
    rows, errors = read_rows([row])
    assert rows == []
    assert errors == [CdrError(1, "end is before start")]


def test_plumbing_only_rows_are_no_call():
    row = csv_row(
        *base(
            "",
            "s",
            "Local/s@app-00000001;2",
            "",
            "Hangup",
            "2026-07-01 10:00:00",
            "",
            "2026-07-01 10:00:01",
            0,
            "NO ANSWER",
        ),
        "1782900000.9",
        "",
    )
    result = parse_cdr([row], TRUNKS)
    assert (result.calls, result.errors) == ([], [])


def test_rows_without_any_channel_are_reported_not_dropped():
    row = csv_row(
        *base(
            "+31612345678",
            "0201234567",
            "",
            "",
            "Dial",
            "2026-07-01 10:00:00",
            "",
            "2026-07-01 10:00:09",
            0,
            "FAILED",
        ),
        "1782900000.7",
        "",
    )
    result = parse_cdr([STANDARD, row], TRUNKS)
    assert [call["external_id"] for call in result.calls] == ["1782900000.1"]
    assert [str(error) for error in result.errors] == [
        "line 2: call 1782900000.7: its rows name no channel; the call was not taken"
    ]


def test_parse_cdr_file(tmp_path):
    path = tmp_path / "Master.csv"
    path.write_text("".join(RING_GROUP), encoding="utf-8")
    result = parse_cdr_file(path, TRUNKS, timezone="UTC")
    assert len(result.calls) == 2
    assert result.errors == []
