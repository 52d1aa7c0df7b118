import pytest

from pbx.asterisk.ami import Message, Parser, encode_action, iter_file, parse_bytes, parse_file
from pbx.testing.captures import capture

TWO_EVENTS = (
    b"Event: Newchannel\r\nChannel: SIP/201-00000001\r\nUniqueid: 1.1\r\n\r\n"
    b"Event: Hangup\r\nChannel: SIP/201-00000001\r\nCause: 16\r\n\r\n"
)


def test_crlf_messages():
    first, second = parse_bytes(TWO_EVENTS)
    assert first.get("Event") == "Newchannel"
    assert first.get("Channel") == "SIP/201-00000001"
    assert second.event == "Hangup"
    assert second["Cause"] == "16"


def test_lf_only_is_the_same():
    assert parse_bytes(TWO_EVENTS.replace(b"\r\n", b"\n")) == parse_bytes(TWO_EVENTS)


def test_chunks_split_anywhere_give_the_same_messages():
    expected = parse_bytes(TWO_EVENTS)
    for size in (1, 2, 3, 7, 13):
        parser = Parser()
        got = []
        for i in range(0, len(TWO_EVENTS), size):
            got += parser.feed(TWO_EVENTS[i : i + size])
        assert got + parser.flush() == expected, size


def test_split_inside_crlf_and_inside_utf8():
    data = "Event: NewCallerid\r\nCallerIDName: Zoë\r\n\r\n".encode()
    cut = data.index("ë".encode()) + 1
    parser = Parser()
    assert parser.feed(data[:cut]) == []
    (message,) = parser.feed(data[cut:])
    assert message.get("CallerIDName") == "Zoë"
    parser = Parser()
    cut = data.index(b"\r\n\r\n") + 1
    assert parser.feed(data[:cut]) == []
    assert len(parser.feed(data[cut:])) == 1


def test_message_completes_only_at_blank_line():
    parser = Parser()
    assert parser.feed(b"Event: Hangup\r\nCause: 16\r\n") == []
    assert len(parser.feed(b"\r\n")) == 1


def test_repeated_keys_are_kept_in_order():
    (message,) = parse_bytes(
        b"Event: Newchannel\r\n"
        b"ChanVariable: MIXMONITOR_FILENAME=/rec/a.wav\r\n"
        b"ChanVariable: FOO=bar\r\n\r\n"
    )
    assert message.get("ChanVariable") == "MIXMONITOR_FILENAME=/rec/a.wav"
    assert message.get_all("ChanVariable") == ["MIXMONITOR_FILENAME=/rec/a.wav", "FOO=bar"]
    assert message.get_all("chanvariable") == message.get_all("ChanVariable")
    assert message.get_all("Missing") == []


def test_command_output_lines():
    (message,) = parse_bytes(
        b"Response: Success\r\nMessage: Command output follows\r\n"
        b"Output: Name/username   Host\r\nOutput: 201/201   10.0.0.5\r\n\r\n"
    )
    assert message.get_all("Output") == ["Name/username   Host", "201/201   10.0.0.5"]
    assert message.event is None


def test_junk_lines_and_banner_are_ignored():
    messages = parse_bytes(
        b"Asterisk Call Manager/5.0.1\r\n"
        b"Response: Success\r\nthis line has no colon\r\n: no key\r\n"
        b"Message: Authentication accepted\r\n\r\n"
        b"\r\n\r\n"
        b"Event: FullyBooted\r\nStatus: Fully Booted\r\n\r\n"
    )
    assert [m.pairs for m in messages] == [
        [("Response", "Success"), ("Message", "Authentication accepted")],
        [("Event", "FullyBooted"), ("Status", "Fully Booted")],
    ]


def test_values_keep_colons_and_may_be_empty():
    (message,) = parse_bytes(b"Event: X\r\nValue: sip:201@10.0.0.1:5060\r\nExten:\r\n\r\n")
    assert message.get("Value") == "sip:201@10.0.0.1:5060"
    assert message.get("Exten") == ""
    assert "Exten" in message
    with pytest.raises(KeyError):
        message["Nope"]


def test_flush_returns_unterminated_message():
    parser = Parser()
    assert parser.feed(b"Event: Hangup\r\nCause: 16") == []
    assert parser.flush() == [Message([("Event", "Hangup"), ("Cause", "16")])]
    assert parser.flush() == []


def test_parse_file_and_iter_file(tmp_path):
    path = tmp_path / "capture.ami"
    path.write_bytes(TWO_EVENTS)
    assert parse_file(path) == parse_bytes(TWO_EVENTS)
    assert list(iter_file(path, chunk_size=5)) == parse_bytes(TWO_EVENTS)


def test_a_real_capture_parses_cleanly():
    messages = parse_file(capture("simple_ab_success_a_hangup.ami"))
    assert len(messages) == 47  # one per "Event:" line in the file
    assert all(m.event for m in messages)
    assert messages[-1].get("Event") == "Hangup"


def test_encode_action():
    wire = encode_action({"ActionID": "7", "Action": "Login", "Username": "odoo", "Secret": "x"})
    assert wire == b"Action: Login\r\nActionID: 7\r\nUsername: odoo\r\nSecret: x\r\n\r\n"
    assert parse_bytes(wire)[0].get("Username") == "odoo"


def test_encode_repeated_values_and_pairs():
    wire = encode_action(
        [
            ("Action", "Originate"),
            ("Channel", "PJSIP/201"),
            ("Variable", ["A=1", "B=2"]),
            ("Async", True),
        ]
    )
    (message,) = parse_bytes(wire)
    assert message.get_all("Variable") == ["A=1", "B=2"]
    assert message.get("Async") == "True"


def test_encode_refuses_header_injection_and_missing_action():
    with pytest.raises(ValueError):
        encode_action({"Action": "Ping", "ActionID": "1\r\nAction: Logoff"})
    with pytest.raises(ValueError):
        encode_action({"ActionID": "1"})
