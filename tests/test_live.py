"""The live-event route and the wallboard's data: callers, agents, calls in progress."""

import json
from datetime import UTC, datetime, timedelta

from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from ..pbx.live import MAX_EVENTS
from .common import make_pbx, post_json, recent_start, setup_company

LIVE = "phone_call_accounting/live"


def at(seconds_ago=0):
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat()


@tagged("post_install", "-at_install")
class TestLiveRoute(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = setup_company(cls.env)
        cls.pbx = make_pbx(cls.env, name="Live PBX")
        cls.url = f"/phone_call_accounting/pbx/{cls.pbx.id}/live"
        cls.manager = new_test_user(
            cls.env,
            "live_manager",
            groups="phone_call_accounting.group_phone_manager",
            name="Mia Manager",
        )
        cls.agent = new_test_user(
            cls.env, "live_agent", groups="phone_call_accounting.group_phone_user", name="Ann Agent"
        )
        cls.agent.phone_extension = "201"
        # A client whose call waits unnamed by the PBX: the wallboard names it.
        cls.env["res.partner"].create({"name": "Mobiel Klant", "phone": "06 12345678"})

    def post(self, body, token=None, headers=None, url=None):
        token = token if token is False else token or self.pbx.token
        return post_json(self, url or self.url, body, token, headers)

    def live_messages(self):
        """The live bus messages sent so far: [(channel, payload)]."""
        self.env.cr.precommit.run()
        found = []
        for record in self.env["bus.bus"].sudo().search([], order="id"):
            message = json.loads(record.message)
            if message["type"] == LIVE:
                found.append((json.loads(record.channel), message["payload"]))
        return found

    def board(self, user=None):
        return self.env["phone.queue"].with_user(user or self.manager).wallboard_data()

    def queue_board(self, name, user=None):
        return next(q for q in self.board(user)["queues"] if q["name"] == name)

    def callers(self, queue="support"):
        return self.env["phone.queue.caller"].search(
            [
                ("queue_id.name", "=", queue),
                ("queue_id.pbx_id", "=", self.pbx.id),
                ("left_at", "=", False),
            ]
        )

    # -- the route ---------------------------------------------------------

    def test_events_are_applied_and_one_bus_message_per_request(self):
        events = [
            {
                "type": "caller_join",
                "queue": "support",
                "call_id": "c1",
                "number": "+31205550101",
                "name": "Bakkerij Korst",
                "position": 1,
                "at": at(30),
            },
            {
                "type": "caller_join",
                "queue": "support",
                "call_id": "c2",
                "number": "+31612345678",
                "position": 2,
                "at": at(10),
            },
            {
                "type": "member",
                "queue": "support",
                "member": "PJSIP/201",
                "extension": "201",
                "name": "Ann",
                "status": "available",
                "at": at(60),
            },
            {
                "type": "member",
                "queue": "support",
                "member": "PJSIP/202",
                "extension": "202",
                "status": "paused",
                "at": at(60),
            },
            {
                "type": "member",
                "queue": "sales",
                "member": "PJSIP/203",
                "extension": "203",
                "status": "on_call",
                "at": at(60),
            },
            {
                "type": "call",
                "call_id": "c0",
                "state": "talking",
                "from_number": "+31205550199",
                "to_number": "+31207940100",
                "extension": "201",
                "at": at(5),
            },
        ]
        response = self.post({"events": events})
        self.assertEqual(response.status_code, 200, response.text)
        answer = response.json()
        self.assertEqual(answer["result"], "applied")
        self.assertEqual(answer["events"], 6)
        self.assertEqual(answer["applied"], {"caller_join": 2, "member": 3, "call": 1})
        # One message for the whole batch, to the managers' group channel.
        [(channel, payload)] = self.live_messages()
        group = self.env.ref("phone_call_accounting.group_phone_manager")
        self.assertEqual(channel[1:], ["res.groups", group.id])
        self.assertEqual(payload["pbx_id"], self.pbx.id)
        queues = self.env["phone.queue"].search([("pbx_id", "=", self.pbx.id)])
        self.assertEqual(sorted(queues.mapped("name")), ["sales", "support"])
        self.assertEqual(sorted(payload["queue_ids"]), sorted(queues.ids))

        support = self.queue_board("support")
        self.assertEqual(support["waiting"], 2)
        # As the calls list writes them (the company is Dutch); the PBX's name
        # first, else the client's.
        self.assertEqual(
            [(c["number"], c["name"]) for c in support["callers"]],
            [("020 555 0101", "Bakkerij Korst"), ("06 12345678", "Mobiel Klant")],
        )
        longest = datetime.fromisoformat(support["longest_since"])
        self.assertAlmostEqual((datetime.now(UTC) - longest).total_seconds(), 30, delta=5)
        self.assertEqual(
            support["agents"],
            {"available": 1, "on_call": 0, "ringing": 0, "paused": 1, "unavailable": 0},
        )
        self.assertEqual(self.queue_board("sales")["agents"]["on_call"], 1)
        [call] = self.board()["calls"]
        self.assertEqual(
            (call["state"], call["extension"], call["agent"], call["other"], call["outgoing"]),
            ("talking", "201", "Ann Agent", "020 555 0199", False),
        )

        # The first caller is answered, the second hangs up; the call ends.
        leave = [
            {
                "type": "caller_leave",
                "queue": "support",
                "call_id": "c1",
                "result": "answered",
                "at": at(2),
            },
            {
                "type": "caller_leave",
                "queue": "support",
                "call_id": "c2",
                "result": "abandoned",
                "at": at(1),
            },
            {
                "type": "member",
                "queue": "support",
                "member": "PJSIP/201",
                "status": "on_call",
                "at": at(2),
            },
            {"type": "call", "call_id": "c0", "state": "ended", "extension": "201", "at": at(1)},
        ]
        self.assertEqual(self.post({"events": leave}).status_code, 200)
        self.assertEqual(len(self.live_messages()), 2)
        support = self.queue_board("support")
        self.assertEqual((support["waiting"], support["longest_since"]), (0, False))
        self.assertEqual(support["agents"]["on_call"], 1)
        member = self.env["phone.queue.member"].search([("member", "=", "PJSIP/201")])
        self.assertEqual(member.name, "Ann", "a status without a name keeps the name")
        self.assertFalse(self.board()["calls"])
        left = self.env["phone.queue.caller"].search([("call_id", "in", ["c1", "c2"])])
        self.assertEqual(sorted(left.mapped("result")), ["abandoned", "answered"])

    def test_late_events_change_nothing(self):
        """Batches through several workers may arrive out of order: the times decide."""
        self.post(
            {
                "events": [
                    {"type": "caller_leave", "queue": "support", "call_id": "late", "at": at(5)},
                    {
                        "type": "member",
                        "queue": "support",
                        "member": "PJSIP/201",
                        "status": "paused",
                        "at": at(5),
                    },
                    {
                        "type": "call",
                        "call_id": "k",
                        "state": "ended",
                        "extension": "201",
                        "at": at(5),
                    },
                ]
            }
        )
        answer = self.post(
            {
                "events": [
                    {"type": "caller_join", "queue": "support", "call_id": "late", "at": at(20)},
                    {
                        "type": "member",
                        "queue": "support",
                        "member": "PJSIP/201",
                        "status": "available",
                        "at": at(20),
                    },
                    {
                        "type": "call",
                        "call_id": "k",
                        "state": "ringing",
                        "extension": "201",
                        "at": at(20),
                    },
                ]
            }
        ).json()
        self.assertEqual(answer["applied"], {})
        self.assertFalse(self.callers())
        self.assertEqual(self.queue_board("support")["agents"]["paused"], 1)
        self.assertFalse(self.board()["calls"])
        # A later round rings the phone again: that is news.
        self.post(
            {
                "events": [
                    {
                        "type": "call",
                        "call_id": "k",
                        "state": "ringing",
                        "extension": "201",
                        "at": at(1),
                    }
                ]
            }
        )
        self.assertEqual([c["state"] for c in self.board()["calls"]], ["ringing"])
        # A call ended without naming the phone ends on every phone it rang.
        self.post({"events": [{"type": "call", "call_id": "k", "state": "ended", "at": at(0)}]})
        self.assertFalse(self.board()["calls"])

    def test_snapshot_replaces_the_queues_it_names(self):
        self.post(
            {
                "events": [
                    {"type": "caller_join", "queue": "support", "call_id": "gone", "at": at(100)},
                    {"type": "caller_join", "queue": "support", "call_id": "stays", "at": at(90)},
                    {
                        "type": "caller_join",
                        "queue": "sales",
                        "call_id": "other-queue",
                        "at": at(90),
                    },
                    {
                        "type": "member",
                        "queue": "support",
                        "member": "PJSIP/201",
                        "status": "available",
                        "at": at(100),
                    },
                    {
                        "type": "member",
                        "queue": "support",
                        "member": "PJSIP/299",
                        "status": "available",
                        "at": at(100),
                    },
                ]
            }
        )
        snapshot = {
            "type": "snapshot",
            "at": at(0),
            "queues": [
                {
                    "queue": "support",
                    "callers": [
                        {"call_id": "stays", "number": "0205550101", "position": 1, "at": at(90)},
                        {"call_id": "new", "number": "0612345678", "position": 2, "at": at(40)},
                    ],
                    "members": [
                        {"member": "PJSIP/201", "extension": "201", "status": "on_call"},
                        {"member": "PJSIP/202", "extension": "202", "status": "paused"},
                    ],
                },
                {"queue": "empty", "callers": [], "members": []},
            ],
        }
        response = self.post({"events": [snapshot]})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(sorted(self.callers().mapped("call_id")), ["new", "stays"])
        stays = self.callers().filtered(lambda c: c.call_id == "stays")
        self.assertEqual(stays.number, "0205550101")
        support = self.queue_board("support")
        self.assertAlmostEqual(
            (datetime.now(UTC) - datetime.fromisoformat(support["longest_since"])).total_seconds(),
            90,
            delta=5,
        )
        self.assertEqual(
            support["agents"],
            {"available": 0, "on_call": 1, "ringing": 0, "paused": 1, "unavailable": 0},
        )
        # The member no longer in the queue is archived: still among the members seen.
        queue = self.env["phone.queue"].search(
            [("name", "=", "support"), ("pbx_id", "=", self.pbx.id)]
        )
        seen = queue.member_ids
        self.assertEqual(sorted(seen.mapped("member")), ["PJSIP/201", "PJSIP/202", "PJSIP/299"])
        self.assertEqual(
            sorted(seen.filtered("active").mapped("member")), ["PJSIP/201", "PJSIP/202"]
        )
        # The queue's form shows them to managers; a Phone user reads the queue without them.
        form = queue.with_user(self.manager).get_views([(False, "form")])["views"]["form"]
        self.assertIn('name="member_ids"', form["arch"])
        as_user = queue.with_user(self.agent)
        self.assertEqual(as_user.read(["name"])[0]["name"], "support")
        self.assertNotIn("member_ids", as_user.fields_get())
        self.assertEqual(queue.caller_ids, self.callers())
        # A queue the snapshot does not name keeps its state; a named empty one exists.
        self.assertEqual(self.callers("sales").call_id, "other-queue")
        self.assertEqual(self.queue_board("empty")["waiting"], 0)

    def test_a_snapshot_older_than_an_event_leaves_it(self):
        """A snapshot taken before a caller joined (posted later, by another
        worker) does not remove that caller, nor bring back one who left since."""
        self.post(
            {
                "events": [
                    {"type": "caller_join", "queue": "support", "call_id": "new", "at": at(5)},
                    {"type": "caller_leave", "queue": "support", "call_id": "gone", "at": at(5)},
                ]
            }
        )
        old = {
            "type": "snapshot",
            "at": at(10),
            "queues": [
                {
                    "queue": "support",
                    "callers": [{"call_id": "gone", "at": at(60)}],
                    "members": [],
                }
            ],
        }
        self.assertEqual(self.post({"events": [old]}).status_code, 200)
        self.assertEqual(self.callers().mapped("call_id"), ["new"])

    @mute_logger("odoo.http")
    def test_wrong_secret_writes_nothing(self):
        body = {"events": [{"type": "caller_join", "queue": "support", "call_id": "x"}]}
        self.assertEqual(self.post(body, token=False).status_code, 401)
        self.assertEqual(self.post(body, token="not-the-token").status_code, 403)
        forged = {"X-Signature": "sha256=" + "0" * 64}
        self.assertEqual(self.post(body, token=False, headers=forged).status_code, 403)
        other = make_pbx(self.env, name="Other PBX")
        wrong = f"/phone_call_accounting/pbx/{other.id}/live"
        self.assertEqual(self.post(body, url=wrong).status_code, 403)
        self.pbx.active = False
        self.assertEqual(self.post(body).status_code, 403)
        self.assertFalse(
            self.env["phone.queue"].search([("pbx_id", "in", [self.pbx.id, other.id])])
        )
        self.assertFalse(self.env["phone.queue.caller"].search([]))
        self.assertFalse(self.live_messages())

    def test_bad_batches_get_400_and_nothing_is_applied(self):
        good = {"type": "caller_join", "queue": "support", "call_id": "ok", "at": at()}
        for bad, reason in (
            (b"{nope", "not valid JSON"),
            ([good], '{"events": [...]}'),
            ({"events": good}, '{"events": [...]}'),
            ({"events": [good, {"type": "dance"}]}, 'event 2: "type" must be one of'),
            ({"events": [good | {"at": "2026-11-20T09:30:00"}]}, "UTC offset"),
            ({"events": [good | {"at": "yesterday"}]}, "not an ISO 8601"),
            ({"events": [good | {"call_id": ""}]}, '"call_id" is required'),
            ({"events": [good | {"queue": {"name": "x"}}]}, '"queue" must be a string'),
            ({"events": [good | {"position": -1}]}, '"position"'),
            ({"events": [good | {"number": "1\n2"}]}, "control characters"),
            (
                {
                    "events": [
                        {"type": "member", "queue": "q", "member": "PJSIP/1", "status": "asleep"}
                    ]
                },
                '"status" must be one of',
            ),
            ({"events": [{"type": "call", "call_id": "x", "state": "held"}]}, '"state"'),
            ({"events": [{"type": "snapshot", "queues": {}}]}, '"queues" must be a list'),
            (
                {"events": [{"type": "snapshot", "queues": [{"queue": "q", "callers": [1]}]}]},
                "caller",
            ),
            ({"events": [good] * (MAX_EVENTS + 1)}, f"at most {MAX_EVENTS} events"),
        ):
            response = self.post(bad)
            self.assertEqual(response.status_code, 400, bad)
            self.assertIn(reason, response.json()["error"], bad)
        self.assertFalse(self.env["phone.queue.caller"].search([]))
        self.assertFalse(self.live_messages())
        big = {"events": [good | {"name": "x" * 100}] * 30000}
        self.assertEqual(self.post(big).status_code, 413)

    # -- the wallboard's data ----------------------------------------------

    def test_todays_figures_and_colours(self):
        self.post(
            {
                "events": [
                    {
                        "type": "member",
                        "queue": "support",
                        "member": "PJSIP/201",
                        "status": "available",
                        "at": at(),
                    }
                ]
            }
        )
        queue = self.env["phone.queue"].search(
            [("name", "=", "support"), ("pbx_id", "=", self.pbx.id)]
        )
        queue.write(
            {"service_level_seconds": 20, "short_abandon_seconds": 5, "target_service_level": 80}
        )
        # Today: answered after 10 s and 30 s, abandoned after 3 s (short) and 40 s.
        # Yesterday's call does not count.
        calls = [
            ("answered", 10, 0),
            ("answered", 30, 0),
            ("abandoned", 3, 0),
            ("abandoned", 40, 0),
            ("answered", 5, 1),
        ]
        Call = self.env["phone.call"]
        for index, (result, wait, days_ago) in enumerate(calls):
            start = recent_start(self.env, 1) - timedelta(days=days_ago)
            [created] = Call._ingest_calls(
                [
                    {
                        "external_id": f"today-{index}",
                        "direction": "incoming",
                        "status": "answered" if result == "answered" else "missed",
                        "from_number": "+31205550101",
                        "to_number": "+31207940100",
                        "start": start.replace(tzinfo=UTC).isoformat(),
                        "talk_seconds": 60 if result == "answered" else 0,
                    }
                ],
                pbx=self.pbx,
            )
            Call.browse(created["call_id"]).write(
                {"queue_id": queue.id, "queue_result": result, "queue_wait_seconds": wait}
            )
        support = self.queue_board("support")
        self.assertEqual((support["offered"], support["answered"], support["abandoned"]), (4, 2, 2))
        # Service level: 1 answered within 20 s / (4 offered - 1 short abandon) = 33 %.
        self.assertEqual(support["service_level"], 33.3)
        self.assertEqual(support["service_level_state"], "bad")
        # Average speed of answer: (10 + 30) / 2 = 20 s, within T.
        self.assertEqual((support["answer_speed"], support["answer_speed_state"]), (20, "good"))
        queue.write({"target_service_level": 40, "service_level_seconds": 15})
        support = self.queue_board("support")
        self.assertEqual(support["service_level_state"], "warn")
        self.assertEqual(support["answer_speed_state"], "warn")
        queue.target_service_level = 30
        self.assertEqual(self.queue_board("support")["service_level_state"], "good")

    def test_only_managers_of_the_company_see_it(self):
        self.post(
            {"events": [{"type": "caller_join", "queue": "support", "call_id": "m1", "at": at()}]}
        )
        with self.assertRaises(AccessError):
            self.board(self.agent)
        other = self.env["res.company"].create({"name": "Other company"})
        outsider = new_test_user(
            self.env,
            "live_outsider",
            groups="phone_call_accounting.group_phone_manager",
            company_id=other.id,
            company_ids=[other.id],
        )
        self.assertFalse([q for q in self.board(outsider)["queues"] if q["name"] == "support"])

    def test_cron_removes_what_ended_and_what_went_silent(self):
        self.post(
            {
                "events": [
                    {
                        "type": "caller_join",
                        "queue": "support",
                        "call_id": "old",
                        "at": at(6 * 3600),
                    },
                    {"type": "caller_join", "queue": "support", "call_id": "now", "at": at(60)},
                    {"type": "caller_leave", "queue": "support", "call_id": "left", "at": at(3600)},
                    {
                        "type": "call",
                        "call_id": "silent",
                        "state": "talking",
                        "extension": "201",
                        "at": at(5 * 3600),
                    },
                    {
                        "type": "call",
                        "call_id": "talks",
                        "state": "talking",
                        "extension": "202",
                        "at": at(600),
                    },
                ]
            }
        )
        removed = self.env["phone.queue"]._cron_clean_live_state()
        self.assertEqual(removed, 3)
        self.assertEqual(self.callers().call_id, "now")
        self.assertEqual(self.env["phone.call.live"].search([]).mapped("call_id"), ["talks"])
        self.assertTrue(self.live_messages())

    def test_wallboard_menu_is_for_managers(self):
        menu = self.env.ref("phone_call_accounting.phone_wallboard_menu")
        self.assertEqual(menu.group_ids, self.env.ref("phone_call_accounting.group_phone_manager"))
        self.assertEqual(menu.action, self.env.ref("phone_call_accounting.phone_wallboard_action"))
