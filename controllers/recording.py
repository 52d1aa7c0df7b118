from odoo import http
from odoo.exceptions import AccessError, MissingError
from odoo.http import request


class PhoneRecordingController(http.Controller):
    """Recordings are heard only by users who may read the call."""

    @http.route(
        "/phone_call_accounting/call/<int:call_id>/recording",
        type="http",
        auth="user",
        methods=["GET"],
    )
    def recording(self, call_id, download=None):
        call = request.env["phone.call"].browse(call_id)
        try:
            call.check_access("read")
            attachment = call.recording_attachment_id
        except (AccessError, MissingError):
            raise request.not_found() from None
        if not call.recording_downloaded or not attachment:
            raise request.not_found()
        stream = request.env["ir.binary"]._get_stream_from(attachment.sudo())
        return stream.get_response(as_attachment=bool(download))
