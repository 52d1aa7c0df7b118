from odoo import http
from odoo.http import request

from ..pbx import vendors
from ..pbx.ringing import RingingEventError
from .common import authorize_pbx, error_response, json_response, parse_json, webhook_max_bytes

# A ringing event is a few hundred bytes.
MAX_RINGING_BYTES = 64 * 1024


class PhoneRingingController(http.Controller):
    """A phone rings: pop the caller up for its users. Nothing is stored."""

    @http.route(
        "/phone_call_accounting/pbx/<int:pbx_id>/ringing",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
    )
    def receive_ringing(self, pbx_id, **query):
        """A ringing event in the PBX's webhook format (or ``?format=``).

        Native: ``{"from_number", "to_number", "extensions": [...], "call_id"}``;
        see pbx/vendors.py for the other PBXes' events. Same secrets and
        refusals as the calls webhook (401, 403, 413, 400), checked before
        anything is read or sent. GET is 3CX's contact lookup only.
        """
        method = request.httprequest.method
        header = request.httprequest.headers.get("Authorization", "")
        if method == "GET" and header[:7].lower() != "bearer ":
            # A signature covers the body, and a GET has none: its query would be unsigned.
            return error_response(401, "a GET lookup must send Authorization: Bearer <token>")
        pbx, body, refusal = authorize_pbx(pbx_id, min(webhook_max_bytes(), MAX_RINGING_BYTES))
        if refusal:
            return refusal
        fmt = query.pop("format", None) or pbx.webhook_format
        vendor = vendors.VENDORS.get(fmt)
        if vendor is None:
            return error_response(400, vendors.unknown_format(fmt))
        if method == "GET" and vendor.lookup is None:
            return error_response(405, vendors.lookup_refused(fmt))
        bodies = []
        if body.strip() or vendor.lookup is None:
            data, refusal = parse_json(body)
            if refusal:
                return refusal
            bodies.append(data)
        try:
            # A lookup's values come in the query (GET), a form or a JSON body.
            event = vendor.lookup(query, bodies) if vendor.lookup else bodies[0]
            result = pbx._ringing_receive(event, fmt)
        except RingingEventError as exc:
            return error_response(400, str(exc))
        return json_response(200, result)
