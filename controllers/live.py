from odoo import http

from ..pbx.live import LiveEventError, check_events
from .common import authorize_pbx, error_response, json_response, parse_json, webhook_max_bytes

# A batch of live events: a few hundred bytes each, a snapshot of big queues more.
MAX_LIVE_BYTES = 2 * 1024 * 1024


class PhoneLiveController(http.Controller):
    """Live events of a PBX (pbx/live.py): the wallboard's callers, agents and calls."""

    @http.route(
        "/phone_call_accounting/pbx/<int:pbx_id>/live",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def receive_live(self, pbx_id, **query):
        """``{"events": [...]}``: applied in order, then one bus message to the
        managers' wallboards. Same secrets and refusals as the calls webhook
        (401, 403, 413), checked before anything is read or written; a body
        that is not such a batch is a 400 and nothing of it is applied."""
        pbx, body, refusal = authorize_pbx(pbx_id, min(webhook_max_bytes(), MAX_LIVE_BYTES))
        if refusal:
            return refusal
        payload, refusal = parse_json(body)
        if refusal:
            return refusal
        try:
            events = check_events(payload)
        except LiveEventError as exc:
            return error_response(400, str(exc))
        return json_response(200, pbx._live_receive(events))
