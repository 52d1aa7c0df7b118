"""Click to dial: pbx.asterisk.originate against a fake AMI server on 127.0.0.1."""

import socket
import threading
import time

import pytest

from pbx.asterisk.originate import OriginateError, dialling_form, originate
from pbx.testing.fake_ami import FakeOriginateAmiServer, closed_port

pytestmark = pytest.mark.filterwarnings(
    r"ignore:(isSet|setDaemon)\(\) is deprecated:DeprecationWarning"
)


@pytest.fixture
def ami():
    server = FakeOriginateAmiServer(username="odoo", secret="s3cret").start()
    yield server
    server.stop()


def dial(server, **overrides):
    options = {
        "host": "127.0.0.1",
        "port": server.port,
        "username": "odoo",
        "secret": "s3cret",
        "channel": "PJSIP/201",
        "exten": "0205550101",
        "context": "from-internal",
        "caller_id": "Click to dial <0205550101>",
        "timeout": 2,
        "ring_timeout": 25,
    }
    options.update(overrides)
    return originate(**options)


def test_originate_sends_the_exact_action_and_logs_off(ami):
    action_id = dial(ami, variables={"PCA_USER": "7"})
    assert ami.wait_originates()
    [action] = ami.originates
    assert action.get("ActionID") == action_id
    assert [(key, value) for key, value in action.pairs if key != "ActionID"] == [
        ("Action", "Originate"),
        ("Channel", "PJSIP/201"),
        ("Context", "from-internal"),
        ("Exten", "0205550101"),
        ("Priority", "1"),
        ("Async", "true"),
        ("Timeout", "25000"),
        ("CallerID", "Click to dial <0205550101>"),
        ("Variable", "PCA_USER=7"),
    ]
    assert ami.wait_for(lambda: [a.get("Action") for _, a in ami.actions][-1] == "Logoff")
    names = [a.get("Action") for _, a in ami.actions]
    assert names == ["Login", "Originate", "Logoff"]
    assert ami.wait_for(lambda: "closed" in [what for _, what, _ in ami.history])


def test_wrong_secret_is_a_clear_error(ami):
    with pytest.raises(OriginateError, match="refused the AMI login of 'odoo'"):
        dial(ami, secret="wrong")
    assert not ami.originates


def test_error_response_is_a_clear_error(ami):
    ami.originate_reply = "error"
    ami.originate_message = "Extension does not exist."
    with pytest.raises(OriginateError, match="refused to dial 0205550101: Extension does not"):
        dial(ami)


def test_silent_pbx_times_out_within_the_timeout(ami):
    ami.originate_reply = "silent"
    started = time.monotonic()
    with pytest.raises(OriginateError, match="did not answer within 1 seconds"):
        dial(ami, timeout=1)
    assert time.monotonic() - started < 2.5


def test_unreachable_port_is_a_clear_error_at_once():
    port = closed_port()
    started = time.monotonic()
    with pytest.raises(OriginateError, match=f"cannot reach the PBX at 127.0.0.1:{port}") as info:
        originate("127.0.0.1", port, "odoo", "x", "PJSIP/201", "0205550101", "from-internal")
    assert info.value.kind == "unreachable"
    assert time.monotonic() - started < 1


def test_server_that_never_greets_times_out():
    """A port that accepts but never sends the AMI banner (a wrong service)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        with pytest.raises(OriginateError, match="cannot reach the PBX"):
            originate(
                "127.0.0.1",
                listener.getsockname()[1],
                "odoo",
                "x",
                "PJSIP/201",
                "0205550101",
                "from-internal",
                timeout=0.5,
            )
        assert time.monotonic() - started < 1.5
    finally:
        for sock, _ in accepted:
            sock.close()
        listener.close()


@pytest.mark.parametrize("field", ["channel", "exten", "context"])
def test_injection_and_empty_values_refused_before_connecting(ami, field):
    with pytest.raises(OriginateError):
        dial(ami, **{field: "201\r\nAction: Hangup"})
    with pytest.raises(OriginateError):
        dial(ami, **{field: ""})
    assert ami.connections == 0


@pytest.mark.parametrize(
    ("raw", "country", "options", "expected"),
    [
        ("+31 20 555 0101", "NL", {}, "0205550101"),
        ("+31205550101", "nl", {}, "0205550101"),
        ("020-555 0101", "NL", {}, "0205550101"),
        ("+44 20 7946 0958", "NL", {}, "00442079460958"),
        ("+44 20 7946 0958", "US", {"international_prefix": "011"}, "011442079460958"),
        ("+1 212 555 0100", "US", {}, "2125550100"),
        ("+31205550101", "NL", {"outside_prefix": "9"}, "90205550101"),
        ("202", "NL", {"outside_prefix": "9"}, "202"),
    ],
)
def test_dialling_form(raw, country, options, expected):
    assert dialling_form(raw, country, **options) == expected


@pytest.mark.parametrize("raw", ["anonymous", "abc", ""])
def test_dialling_form_refuses_what_cannot_be_dialled(raw):
    with pytest.raises(OriginateError, match="is not a number that can be dialled"):
        dialling_form(raw, "NL")


def test_doctests():
    import doctest

    import pbx.asterisk.originate

    assert doctest.testmod(pbx.asterisk.originate).failed == 0
