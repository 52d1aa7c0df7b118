import json
import random
import string
from datetime import UTC, datetime, timedelta

from odoo.tests import HttpCase, tagged

from ..pbx import numbers
from .common import make_pbx, post_json, setup_company

SEED = 20261129
BODIES = 1500
RESULTS = {"created", "updated", "rejected"}
DATES = (
    "2026-11-20T09:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "1970-01-01T00:00:00Z",
    "2026-13-45T25:61:00Z",
    "yesterday",
)


class BodyMaker:
    """Seeded hostile webhook bodies, mixed with valid calls."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.count = 0

    def text(self):
        rng = self.rng
        kind = rng.randrange(8)
        if kind == 0:
            return "\ud800" + "x"  # a lone surrogate: JSON allows it, PostgreSQL does not
        if kind == 1:
            return "".join(chr(rng.randrange(0, 32)) for _ in range(rng.randrange(1, 6)))
        if kind == 2:
            return "x" * rng.choice((256, 5000, 200_000))
        if kind == 3:
            return "".join(chr(rng.randrange(0x20, 0xFFFF)) for _ in range(rng.randrange(1, 40)))
        if kind == 4:
            return "전화 고객 " + rng.choice(("010-1234-5678", "+82 2 555 0101"))
        return "".join(rng.choice(string.printable) for _ in range(rng.randrange(0, 30)))

    def value(self, depth=0):
        rng = self.rng
        kind = rng.randrange(10 if depth < 3 else 7)
        return [
            lambda: None,
            lambda: rng.choice((True, False)),
            lambda: rng.randrange(-(2**70), 2**70),
            lambda: rng.choice((0.5, -1.0, 1e308, float("nan"), float("inf"))),
            self.text,
            lambda: rng.choice(DATES),
            lambda: rng.choice(("incoming", "outgoing", "answered", "missed", "INCOMING")),
            lambda: [self.value(depth + 1) for _ in range(rng.randrange(0, 4))],
            lambda: {self.text()[:20]: self.value(depth + 1) for _ in range(rng.randrange(0, 4))},
            lambda: {"external_id": self.value(depth + 1)},
        ][kind]()

    def valid_call(self):
        self.count += 1
        start = datetime(2026, 11, 20, 9, tzinfo=UTC) + timedelta(minutes=self.count)
        return {
            "external_id": f"fuzz-{self.count}",
            "direction": "incoming",
            "status": "answered",
            "from_number": f"+3120555{self.rng.randrange(1000, 9999)}",
            "to_number": "+31207940100",
            "extension": "201",
            "start": start.isoformat(),
            "talk_seconds": self.rng.randrange(0, 600),
        }

    def mutated_call(self):
        call = self.valid_call()
        for _ in range(self.rng.randrange(1, 4)):
            call[self.rng.choice([*call, "ring_seconds", "end", "forwarded"])] = self.value()
        return call

    def body(self):
        """Raw bytes of one request body."""
        rng = self.rng
        kind = rng.randrange(12)
        if kind == 0:
            return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
        if kind == 1:
            depth = rng.choice((50, 2000, 100_000))
            return b"[" * depth + b"]" * depth
        if kind == 2:
            return b'{"calls": [' + b'{"a":' * 40 + b"1" + b"}" * 40 + b"]}"
        if kind == 3:
            return rng.choice((b"", b"{", b"nul", b'{"calls": NaN}', b"[1,2,", b'"\\ud800"'))
        if kind == 4:
            return json.dumps(self.value()).encode()
        if kind == 5:
            calls = [self.mutated_call() for _ in range(rng.randrange(1, 5))]
            return json.dumps({"calls": calls}).encode()
        calls = [
            self.valid_call() if rng.random() < 0.6 else self.mutated_call()
            for _ in range(rng.randrange(1, 6))
        ]
        if rng.random() < 0.5:
            return json.dumps({"calls": calls}).encode()
        # Unescaped, a lone surrogate becomes bytes that are not UTF-8 at all.
        return json.dumps(calls, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")


@tagged("post_install", "-at_install")
class TestWebhookFuzz(HttpCase):
    """Thousands of generated bodies with the right secret: never a 500."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        setup_company(cls.env)
        cls.pbx = make_pbx(cls.env)
        cls.env["res.users"].browse(2).phone_extension = "201"

    def check_answer(self, response, body):
        self.assertIn(response.status_code, (200, 400, 413), body[:200])
        answer = response.json()
        if response.status_code != 200:
            self.assertIsInstance(answer.get("error"), str)
            return []
        results = answer["results"]
        for result in results:
            self.assertIn(result["result"], RESULTS)
            if result["result"] == "rejected":
                self.assertTrue(result["reason"], result)
            else:
                self.assertTrue(result["call_id"], result)
        return results

    def test_fuzzed_calls_webhook(self):
        maker = BodyMaker(SEED)
        url = f"/phone_call_accounting/pbx/{self.pbx.id}/calls"
        Partner = self.env["res.partner"].with_context(active_test=False)
        last_partner = Partner.search([], order="id desc", limit=1).id
        statuses, landed, landed_numbers = {}, 0, set()
        for _ in range(BODIES):
            body = maker.body()
            response = post_json(self, url, body, self.pbx.token)
            results = self.check_answer(response, body)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            landed += sum(r["result"] != "rejected" for r in results)
            if results:
                items = json.loads(body)
                if isinstance(items, dict):
                    items = items.get("calls", [items])
                for item, result in zip(items, results, strict=True):
                    if result["result"] == "rejected":
                        continue
                    number = item.get("from_number")
                    if isinstance(number, str | int):
                        landed_numbers.add(numbers.classify(str(number), "NL").e164)
        self.assertGreater(landed, 300, "valid calls land among the garbage")
        self.assertGreater(statuses.get(400, 0), 100, statuses)
        calls = self.env["phone.call"].search([("pbx_id", "=", self.pbx.id)])
        self.assertEqual(len(calls), len(set(calls.mapped("external_id"))))
        self.assertNotIn("True", calls.mapped("external_id"))
        # Every caller was created for a call that landed.
        callers = Partner.search([("phone_caller_number", "!=", False)])
        self.assertTrue(callers)
        orphans = callers.filtered(lambda p: p.phone_caller_number not in landed_numbers)
        self.assertFalse(orphans.mapped("phone_caller_number"), "a caller created without its call")
        # And still has one: no partner without a call, whatever the database refused
        # or a later delivery of the same call id moved to another number.
        created = Partner.search([("id", ">", last_partner)])
        self.assertFalse(created - callers, "the webhook creates callers only")
        self.env.flush_all()
        calls_of = dict(
            self.env["phone.call"]._read_group(
                [("partner_id", "in", created.ids)], ["partner_id"], ["__count"]
            )
        )
        without_call = created.filtered(lambda p: not calls_of.get(p))
        self.assertFalse(without_call.mapped("phone_caller_number"), "a partner without a call")

    def test_fuzzed_ringing_and_recording_uploads(self):
        maker = BodyMaker(SEED + 1)
        post_json(
            self,
            f"/phone_call_accounting/pbx/{self.pbx.id}/calls",
            [maker.valid_call()],
            self.pbx.token,
        )
        urls = [
            (f"/phone_call_accounting/pbx/{self.pbx.id}/ringing", (200, 400, 413)),
            (
                f"/phone_call_accounting/pbx/{self.pbx.id}/calls/fuzz-1/recording",
                (200, 400, 413, 415),
            ),
            (
                f"/phone_call_accounting/pbx/{self.pbx.id}/calls/%E2%98%8E/recording",
                (404,),
            ),
        ]
        for index in range(300):
            url, allowed = urls[index % len(urls)]
            body = maker.body()
            response = post_json(self, url, body, self.pbx.token)
            self.assertIn(response.status_code, allowed, (url, body[:200]))
            self.assertIsInstance(response.json(), dict)
