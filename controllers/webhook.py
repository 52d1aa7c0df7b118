import hashlib
import hmac
import json
import logging

from odoo import http
from odoo.http import request

from ..pbx.recordings import RecordingError, check_audio
from ..pbx.webhooks import FORMATS, MappingError

_logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 5 * 1024 * 1024


def _json(status, payload):
    return request.make_json_response(payload, status=status)


def _error(status, reason):
    return _json(status, {"error": reason})


def _parse_json(body):
    """``(data, None)``, or ``(None, a 400 response)`` when the body is not JSON."""
    try:
        return json.loads(body.decode("utf-8")), None
    except (UnicodeDecodeError, ValueError) as exc:
        return None, _error(400, f"the body is not valid JSON: {exc}")


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
        pbx, body, refusal = self._authorize(pbx_id, self._max_bytes())
        if refusal:
            return refusal
        fmt = query.get("format") or None
        if fmt and fmt not in FORMATS:
            return _error(400, f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        payload, refusal = _parse_json(body)
        if refusal:
            return refusal
        try:
            items, mapping_errors = pbx._map_webhook_body(payload, fmt)
        except MappingError as exc:
            return _error(400, str(exc))
        results = self._ingest(pbx, items, mapping_errors)
        return _json(200, {"results": results})

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
        pbx, body, refusal = self._authorize(pbx_id, limit)
        if refusal:
            return refusal
        call = (
            request.env["phone.call"]
            .sudo()
            .search([("source", "=", pbx._source()), ("external_id", "=", external_id)], limit=1)
        )
        if not call:
            return _error(404, f"no call {external_id!r} from this PBX; send the call first")
        name = query.get("filename") or call.recording or f"{external_id}.wav"
        try:
            recording = check_audio(body, name, limit)
        except RecordingError as exc:
            return _error(415 if body else 400, str(exc))
        if not call.recording:
            call.recording = recording.filename
        call._store_recording(recording)
        return _json(200, {"result": "stored", "call_id": call.id, "bytes": len(body)})

    def _authorize(self, pbx_id, max_bytes):
        """(pbx, body, None) when the request carries this PBX's secret, else a refusal."""
        pbx = request.env["phone.pbx"].sudo().browse(pbx_id).exists()
        token = pbx.token if pbx and pbx.active else None
        bearer, signature = self._credentials()
        if not bearer and not signature:
            return (
                None,
                None,
                _error(
                    401,
                    "missing credentials: send Authorization: Bearer <token> "
                    "or X-Signature: sha256=<hex HMAC of the body>",
                ),
            )
        body = self._read_body(max_bytes)
        if body is None:
            return None, None, _error(413, f"the body is larger than {max_bytes} bytes")
        if not token or not self._authentic(token, bearer, signature, body):
            return None, None, _error(403, "wrong credentials for this PBX")
        return pbx, body, None

    @staticmethod
    def _credentials():
        header = request.httprequest.headers.get("Authorization", "")
        bearer = header[7:].strip() if header[:7].lower() == "bearer " else ""
        signature = request.httprequest.headers.get("X-Signature", "").strip()
        if signature.lower().startswith("sha256="):
            signature = signature[7:]
        return bearer, signature

    @staticmethod
    def _authentic(token, bearer, signature, body):
        if bearer:
            return hmac.compare_digest(bearer.encode(), token.encode())
        expected = hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature.lower().encode(), expected.encode())

    @staticmethod
    def _max_bytes():
        value = (
            request.env["ir.config_parameter"]
            .sudo()
            .get_param("phone_call_accounting.webhook_max_bytes")
        )
        return int(value) if value and value.isdigit() else MAX_BODY_BYTES

    @staticmethod
    def _read_body(limit):
        length = request.httprequest.content_length
        if length is not None and length > limit:
            return None
        body = request.httprequest.get_data()
        return None if len(body) > limit else body

    @staticmethod
    def _ingest(pbx, items, mapping_errors):
        good = [item for index, item in enumerate(items) if index not in mapping_errors]
        ingested = iter(pbx._ingest(good) if good else [])
        results = []
        for index in range(len(items)):
            if index in mapping_errors:
                results.append(
                    {
                        "result": "rejected",
                        "external_id": None,
                        "call_id": False,
                        "reason": mapping_errors[index],
                    }
                )
            else:
                results.append(next(ingested))
        _logger.info(
            "PBX %s delivered %d calls: %s",
            pbx.name,
            len(results),
            {
                kind: sum(r["result"] == kind for r in results)
                for kind in ("created", "updated", "rejected")
            },
        )
        return results
