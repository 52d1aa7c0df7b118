import base64
import io

from odoo import fields, models
from odoo.exceptions import UserError

from ..pbx.cdr import parse_cdr

BATCH = 500
MAX_ERRORS_SHOWN = 50


class PhoneCdrImport(models.TransientModel):
    """Upload an Asterisk Master.csv and turn its rows into calls."""

    _name = "phone.cdr.import"
    _description = "Import CDR File"

    pbx_id = fields.Many2one("phone.pbx", string="PBX", required=True)
    file = fields.Binary(string="Master.csv", required=True)
    filename = fields.Char()
    state = fields.Selection([("draft", "Upload"), ("done", "Done")], default="draft")
    created_count = fields.Integer(readonly=True)
    updated_count = fields.Integer(readonly=True)
    rejected_count = fields.Integer(readonly=True)
    error_count = fields.Integer(string="Unreadable Rows", readonly=True)
    report = fields.Text(readonly=True)

    def action_import(self):
        self.ensure_one()
        try:
            text = base64.b64decode(self.file).decode("utf-8-sig")
        except (ValueError, UnicodeDecodeError) as exc:
            raise UserError(self.env._("The file is not UTF-8 text: %s", exc)) from exc
        pbx = self.pbx_id
        parsed = parse_cdr(io.StringIO(text, newline=""), pbx._trunk_regexes(), pbx.timezone)
        if not parsed.calls and parsed.errors:
            raise UserError(
                self.env._(
                    "No call could be read from %(name)s:\n%(errors)s",
                    name=self.filename or "the file",
                    errors="\n".join(str(e) for e in parsed.errors[:MAX_ERRORS_SHOWN]),
                )
            )
        results = []
        for start in range(0, len(parsed.calls), BATCH):
            results += pbx._ingest(parsed.calls[start : start + BATCH])
        lines = [str(error) for error in parsed.errors[:MAX_ERRORS_SHOWN]]
        lines += [
            f"{r['external_id']}: {r['reason']}" for r in results if r["result"] == "rejected"
        ][:MAX_ERRORS_SHOWN]
        self.write(
            {
                "state": "done",
                "created_count": sum(r["result"] == "created" for r in results),
                "updated_count": sum(r["result"] == "updated" for r in results),
                "rejected_count": sum(r["result"] == "rejected" for r in results),
                "error_count": len(parsed.errors),
                "report": "\n".join(lines) or False,
            }
        )
        pbx.last_sync = fields.Datetime.now()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }
