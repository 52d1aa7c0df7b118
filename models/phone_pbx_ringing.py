import logging
import math

import phonenumbers

from odoo import fields, models
from odoo.tools.misc import format_date

from ..pbx import numbers, ringing, vendors

_logger = logging.getLogger(__name__)

RINGING_NOTIFICATION = "phone_call_accounting/ringing"


class PhonePbx(models.Model):
    """A phone rings: the caller pops up for its users; nothing is stored."""

    _inherit = "phone.pbx"

    def _ringing_receive(self, payload, fmt=None):
        """A ringing event in this PBX's webhook format (or ``fmt``): pop up or ignore.

        Events that ring no desk phone (trunk legs, answered calls, other
        event types) answer ``{"result": "ignored", "notified": 0,
        "reason": ...}``; a body that is not the format at all raises
        :class:`pbx.ringing.RingingEventError`.
        """
        self.ensure_one()
        fmt = fmt or self.webhook_format
        event, reason = vendors.read_ringing(payload, fmt, self._trunk_regexes())
        if event is None:
            _logger.debug("PBX %s: %s ringing event ignored: %s", self.name, fmt, reason)
            return {"result": "ignored", "notified": 0, "unknown_extensions": [], "reason": reason}
        return self._ringing_notify(event)

    def _ringing_notify(self, event):
        """Pop the caller up for the users whose extensions ring; store nothing.

        ``event``: ``{"from_number", "to_number", "extensions": [...], "call_id"}``.
        Returns ``{"result": "sent" | "nobody", "notified": n,
        "unknown_extensions": [...]}``; raises :class:`pbx.ringing.RingingEventError`
        for a malformed event.
        """
        self.ensure_one()
        extensions, texts = ringing.check_event(event)
        users = self.env["res.users"]._phone_users_by_extension(extensions, self.company_id)
        unknown = [e for e in extensions if e not in users]
        if not users:
            return {"result": "nobody", "notified": 0, "unknown_extensions": unknown}
        number = numbers.classify(texts["from_number"], self._country_code())
        Partner = self.env["res.partner"]
        wanted = Partner._phone_wanted([number])
        own = number.kind == numbers.EXTERNAL and not wanted
        # Found exactly as call matching finds clients; a ringing event creates none.
        partner = Partner._phone_match(wanted, self.company_id).get(number.e164, Partner.sudo())
        colleague = self.env["res.users"]
        if number.kind == numbers.INTERNAL:
            colleague = (
                self.env["res.users"]
                ._phone_users_by_extension([number.raw], self.company_id)
                .get(number.raw, colleague)
            )
        notified = self.env["res.users"]
        for extension, user in users.items():
            if user in notified:
                continue
            notified |= user
            payload = self._ringing_payload(
                number, partner, colleague, user, extension, texts, creatable=not own
            )
            user._bus_send(RINGING_NOTIFICATION, payload)
        _logger.info(
            "PBX %s: call %s rings %s; notified %d users",
            self.name,
            texts["call_id"],
            ", ".join(extensions),
            len(notified),
        )
        return {"result": "sent", "notified": len(notified), "unknown_extensions": unknown}

    def _ringing_payload(self, number, partner, colleague, user, extension, texts, creatable=True):
        """The bus message for one user: what the pop-up shows, in the user's language."""
        env = self.with_user(user).with_context(lang=user.lang).env
        can_open = bool(partner) and partner.with_user(user).has_access("read")
        client_type = partner.phone_client_type_id
        last_calls = []
        if partner and user.has_group("phone_call_accounting.group_phone_user"):
            call_model = env["phone.call"]
            directions = dict(call_model._fields["direction"]._description_selection(env))
            statuses = dict(call_model._fields["status"]._description_selection(env))
            calls = call_model.sudo().search(
                [("partner_id", "=", partner.id), ("company_id", "in", user.company_ids.ids)],
                limit=3,
                order="call_start desc, id desc",
            )
            # Dated as the calls list dates them (the company's call time zone, 24-hour
            # time): the browser's own zone may be another.
            last_calls = [
                {
                    "id": call.id,
                    "start": fields.Datetime.to_string(call.call_start),
                    "when": f"{format_date(env, call.call_date)} {float_time(call.call_time)}",
                    "direction": call.direction,
                    "direction_label": directions.get(call.direction, call.direction),
                    "status": call.status,
                    "status_label": statuses.get(call.status, call.status),
                    "talk_seconds": call.talk_seconds,
                }
                for call in calls
            ]
        # Any outside number a phone can dial may become a client, also one that the
        # numbering plan does not list (yet): the caller is on the line.
        unknown_caller = number.kind == numbers.EXTERNAL and not partner
        may_create = env["res.partner"].has_access("create")
        can_create = creatable and unknown_caller and may_create
        no_create_reason = False
        if unknown_caller and not can_create:
            no_create_reason = (
                env._("One of the company's own numbers.")
                if not creatable
                else env._("You may not create contacts: ask a colleague to add this caller.")
            )
        default_type = self.company_id.phone_default_client_type_id
        region = can_create and _region(number)
        country = (
            env["res.country"].sudo().search([("code", "=", region)], limit=1)
            if region
            else env["res.country"]
        )
        return {
            "pbx_id": self.id,
            "call_id": texts["call_id"],
            "extension": extension,
            "number": number.international if number.kind == numbers.EXTERNAL else number.raw,
            "number_e164": number.e164 or False,
            "kind": number.kind,
            "partner_id": partner.id if can_open else False,
            "partner_name": partner.sudo().display_name if partner else False,
            "colleague_name": colleague.sudo().name if colleague else False,
            "client_type": {
                "id": client_type.id,
                "name": client_type.with_env(env).sudo().name,
                "image_url": f"/web/image/phone.client.type/{client_type.id}/image",
            }
            if client_type
            else False,
            "last_calls": last_calls,
            "can_open": can_open,
            "can_create": can_create,
            "no_create_reason": no_create_reason,
            "create_defaults": {
                "default_phone": number.e164,
                "default_phone_client_type_id": default_type.id or False,
                "default_country_id": country.id or False,
            }
            if can_create
            else False,
        }


def float_time(hours):
    """``hours`` (a float) as "HH:MM:SS", exactly as the web client's float_time
    field shows it with seconds (the calls list's Call Time)."""
    milliseconds = round(abs(hours or 0.0) * 3600000)
    hour = math.floor(abs(hours or 0.0))
    left = milliseconds - hour * 3600000
    minute, second = left // 60000, (left % 60000) // 1000
    if minute == 60:
        hour, minute = hour + 1, 0
    return f"{hour:02d}:{minute:02d}:{second:02d}"


def _region(number):
    """The caller's country: by the number, else the main one of its country code
    (a number outside the numbering plan has no region of its own)."""
    region = number.region
    if not region and number.parsed:
        region = phonenumbers.region_code_for_country_code(number.parsed.country_code)
    return region if region and region != phonenumbers.UNKNOWN_REGION else False
