from odoo import http
from odoo.exceptions import MissingError
from odoo.http import request

from ..pbx import vendors
from ..pbx.recordings import RecordingError
from ..pbx.webhooks import MappingError
from .common import authorize_pbx, error_response, json_response, parse_json, webhook_max_bytes


class PhoneWebhookController(http.Controller):
    """Calls posted by a PBX: one secret per PBX, checked before any write."""

    @http.route(
        "/phone_call_accounting/pbx/<int:pbx_id>/calls",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def receive_calls(self, pbx_id, **query):
        pbx, body, refusal = authorize_pbx(pbx_id, webhook_max_bytes())
        if refusal:
            return refusal
        fmt = query.get("format") or None
        if fmt and fmt not in vendors.VENDORS:
            return error_response(400, vendors.unknown_format(fmt))
        payload, refusal = parse_json(body)
        if refusal:
            return refusal
        try:
            results = pbx._receive_calls(payload, fmt)
        except MappingError as exc:
            return error_response(400, str(exc))
        return json_response(200, {"results": results})

    @http.route(
        "/phone_call_accounting/pbx/<int:pbx_id>/calls/<string:external_id>/recording",
        type="http",
        auth="public",
        methods=["POST", "PUT"],
        csrf=False,
        save_session=False,
    )
    def receive_recording(self, pbx_id, external_id, **query):
        pbx_sudo = request.env["phone.pbx"].sudo().browse(pbx_id).exists()
        limit = pbx_sudo._recording_max_bytes() if pbx_sudo else 1
        pbx, body, refusal = authorize_pbx(pbx_id, limit)
        if refusal:
            return refusal
        try:
            call = pbx._receive_recording(external_id, body, query.get("filename"))
        except MissingError as exc:
            return error_response(404, str(exc))
        except RecordingError as exc:
            return error_response(415 if body else 400, str(exc))
        return json_response(200, {"result": "stored", "call_id": call.id, "bytes": len(body)})
