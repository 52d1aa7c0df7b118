import os
from datetime import UTC, datetime, timedelta
from unittest.mock import patch
from zoneinfo import ZoneInfo

from odoo.tests import HttpCase, tagged

from ..models.phone_pbx_ringing import float_time
from .common import make_pbx, recent_start, setup_company


@tagged("post_install", "-at_install")
class TestPhoneTour(HttpCase):
    def test_calls_menu_to_client_history(self):
        admin = self.env.ref("base.user_admin")
        admin.tz = "Europe/Amsterdam"
        self.env.company.partner_id.tz = "Europe/Amsterdam"
        self.env.company.country_id = self.env.ref("base.nl")
        self.env["res.partner"].create({"name": "Tour Client", "phone": "+31205550999"})
        missed_start = recent_start(self.env, minutes_ago=2)
        start = missed_start + timedelta(seconds=30)
        calls = [
            {
                "external_id": "tour-1",
                "direction": "incoming",
                "status": "answered",
                "from_number": "+31205550999",
                "to_number": "+31207940100",
                "extension": "201",
                "start": start.isoformat() + "+00:00",
                "ring_seconds": 5,
                "talk_seconds": 75,
            },
            {
                "external_id": "tour-2",
                "direction": "incoming",
                "status": "missed",
                "from_number": "+31205550999",
                "to_number": "+31207940100",
                "start": missed_start.isoformat() + "+00:00",
                "ring_seconds": 20,
            },
        ]
        results = self.env["phone.call"]._ingest_calls(calls)
        self.assertEqual([r["result"] for r in results], ["created", "created"])
        self.start_tour("/odoo", "phone_call_accounting_tour", login="admin")


@tagged("post_install", "-at_install")
class TestCallTimeTour(HttpCase):
    """One call at one time on every screen, the browser in another time zone."""

    ZONE = "Asia/Seoul"  # the company's: the calls are dated there
    BROWSER_ZONE = "America/Sao_Paulo"  # twelve hours away, all year

    def test_one_call_one_time_on_every_screen(self):
        setup_company(self.env)
        self.env.company.partner_id.tz = self.ZONE
        self.env.registry.clear_cache()  # the company's call zone is cached
        admin = self.env.ref("base.user_admin")
        admin.write({"tz": self.ZONE, "phone_extension": "201"})
        make_pbx(self.env, name="Time PBX", country_id=self.env.ref("base.nl").id)
        client = self.env["res.partner"].create({"name": "Time Client", "phone": "+31205550777"})
        start = recent_start(self.env, minutes_ago=30).replace(microsecond=0)
        results = self.env["phone.call"]._ingest_calls(
            [
                {
                    "external_id": f"time-tour-{status}",
                    "direction": "incoming",
                    "status": status,
                    "from_number": "+31205550777",
                    "to_number": "+31207940100",
                    "extension": "201" if status == "answered" else "",
                    "start": (start + timedelta(minutes=n)).isoformat() + "+00:00",
                    "ring_seconds": 5,
                    "talk_seconds": 75 if status == "answered" else 0,
                }
                for n, status in enumerate(("answered", "missed"))
            ]
        )
        self.assertEqual([r["result"] for r in results], ["created", "created"])
        call = self.env["phone.call"].browse(results[0]["call_id"])
        # The time of day in the company's zone, worked out here on its own.
        expected = start.replace(tzinfo=UTC).astimezone(ZoneInfo(self.ZONE)).strftime("%H:%M:%S")
        self.assertEqual(float_time(call.call_time), expected)
        client.ref = expected  # what the tour compares every screen with
        with patch.dict(os.environ, {"TZ": self.BROWSER_ZONE}):
            self.start_tour(
                "/odoo/action-phone_call_accounting.phone_call_action",
                "phone_call_time_tour",
                login="admin",
            )

    def test_calendar_today_is_the_call_zone_day(self):
        """The calendar's Today button goes to the day of the calls list's Today filter."""
        setup_company(self.env)
        self.env.company.partner_id.tz = self.ZONE
        self.env.registry.clear_cache()
        self.env.ref("base.user_admin").tz = self.ZONE
        # A browser zone whose date, now, is not Seoul's (UTC+9): twelve hours
        # behind UTC until noon, fourteen ahead from noon to 15:00 UTC.
        hour = datetime.now(UTC).hour
        zone = "Pacific/Kiritimati" if 12 <= hour < 15 else "Etc/GMT+12"
        with patch.dict(os.environ, {"TZ": zone}):
            self.start_tour(
                "/odoo/action-phone_call_accounting.phone_call_action?view_type=calendar",
                "phone_calendar_today_tour",
                login="admin",
            )
