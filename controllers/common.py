"""What every PBX-facing route shares: its secret, its body, its answers."""

import hashlib
import hmac
import json

from odoo.http import request

MAX_BODY_BYTES = 5 * 1024 * 1024
# Deeper than any PBX payload; deeper still would exhaust Python's recursion limit.
MAX_JSON_DEPTH = 32


def json_response(status, payload):
    return request.make_json_response(payload, status=status)


def error_response(status, reason):
    return json_response(status, {"error": reason})


def _reject_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def _depth(value, limit):
    """Nesting depth of decoded JSON, stopping once past ``limit``."""
    stack, deepest = [(value, 1)], 0
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            break
        if isinstance(node, dict):
            stack.extend((child, level + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, level + 1) for child in node)
    return deepest


def parse_json(body):
    """``(data, None)``, or ``(None, a 400 response)`` when the body is not usable JSON."""
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except RecursionError:
        return None, error_response(400, f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels")
    except (UnicodeDecodeError, ValueError) as exc:
        return None, error_response(400, f"the body is not valid JSON: {exc}")
    if _depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        return None, error_response(400, f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels")
    return data, None


def webhook_max_bytes():
    value = (
        request.env["ir.config_parameter"]
        .sudo()
        .get_param("phone_call_accounting.webhook_max_bytes")
    )
    return int(value) if value and value.isdigit() else MAX_BODY_BYTES


def _credentials():
    header = request.httprequest.headers.get("Authorization", "")
    bearer = header[7:].strip() if header[:7].lower() == "bearer " else ""
    signature = request.httprequest.headers.get("X-Signature", "").strip()
    if signature.lower().startswith("sha256="):
        signature = signature[7:]
    return bearer, signature


def _authentic(token, bearer, signature, body):
    if bearer:
        return hmac.compare_digest(bearer.encode(), token.encode())
    expected = hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature.lower().encode(), expected.encode())


def _read_body(limit):
    length = request.httprequest.content_length
    if length is not None and length > limit:
        return None
    body = request.httprequest.get_data()
    return None if len(body) > limit else body


def authorize_pbx(pbx_id, max_bytes):
    """``(pbx, body, None)`` when the request carries this PBX's secret, else
    ``(None, None, refusal)``: 401 without credentials, 413 over ``max_bytes``,
    403 for a wrong secret or an unknown or archived PBX. Nothing is parsed or
    written before this."""
    pbx = request.env["phone.pbx"].sudo().browse(pbx_id).exists()
    token = pbx.token if pbx and pbx.active else None
    bearer, signature = _credentials()
    if not bearer and not signature:
        return (
            None,
            None,
            error_response(
                401,
                "missing credentials: send Authorization: Bearer <token> "
                "or X-Signature: sha256=<hex HMAC of the body>",
            ),
        )
    body = _read_body(max_bytes)
    if body is None:
        return None, None, error_response(413, f"the body is larger than {max_bytes} bytes")
    if not token or not _authentic(token, bearer, signature, body):
        return None, None, error_response(403, "wrong credentials for this PBX")
    return pbx, body, None
