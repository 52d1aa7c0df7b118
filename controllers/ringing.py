from odoo import http

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
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def receive_ringing(self, pbx_id, **query):
        """``{"from_number", "to_number", "extensions": [...], "call_id"}``.

        Same secrets and refusals as the calls webhook (401, 403, 413, 400),
        checked before anything is read or sent.
        """
        pbx, body, refusal = authorize_pbx(pbx_id, min(webhook_max_bytes(), MAX_RINGING_BYTES))
        if refusal:
            return refusal
        event, refusal = parse_json(body)
        if refusal:
            return refusal
        try:
            result = pbx._ringing_notify(event)
        except RingingEventError as exc:
            return error_response(400, str(exc))
        return json_response(200, result)
