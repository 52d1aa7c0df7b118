import base64
import io

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..pbx.asterisk.cdr import parse_cdr

BATCH = 500
MAX_ERRORS_SHOWN = 50


class PhoneCdrImport(models.TransientModel):
    """Upload an Asterisk Master.csv and turn its rows into calls.

    Small files are imported at once; larger ones by a scheduled action started
    on the spot, batch after batch, while the wizard shows the progress.
    """

    _name = "phone.cdr.import"
    _description = "Import CDR File"
    # Calls a file holds before it is imported in the background.
    _sync_limit = 2000

    pbx_id = fields.Many2one("phone.pbx", string="PBX", required=True)
    file = fields.Binary(string="Master.csv", required=True)
    filename = fields.Char()
    state = fields.Selection(
        [("draft", "Upload"), ("running", "Importing"), ("done", "Done")], default="draft"
    )
    total_count = fields.Integer(string="Calls in File", readonly=True)
    done_count = fields.Integer(string="Calls Imported", readonly=True)
    progress = fields.Float(compute="_compute_progress")
    created_count = fields.Integer(readonly=True)
    updated_count = fields.Integer(readonly=True)
    rejected_count = fields.Integer(readonly=True)
    error_count = fields.Integer(string="Unreadable Rows", readonly=True)
    report = fields.Text(readonly=True)

    @api.depends("done_count", "total_count", "state")
    def _compute_progress(self):
        for wizard in self:
            if wizard.state == "done":
                wizard.progress = 100.0
            else:
                wizard.progress = 100.0 * wizard.done_count / (wizard.total_count or 1)

    def _parse(self):
        self.ensure_one()
        try:
            text = base64.b64decode(self.file).decode("utf-8-sig")
        except (ValueError, UnicodeDecodeError) as exc:
            raise UserError(self.env._("The file is not UTF-8 text: %s", exc)) from exc
        pbx = self.pbx_id
        return parse_cdr(io.StringIO(text, newline=""), pbx._trunk_regexes(), pbx.timezone)

    def action_import(self):
        self.ensure_one()
        parsed = self._parse()
        if not parsed.calls and parsed.errors:
            raise UserError(
                self.env._(
                    "No call could be read from %(name)s:\n%(errors)s",
                    name=self.filename or "the file",
                    errors="\n".join(str(e) for e in parsed.errors[:MAX_ERRORS_SHOWN]),
                )
            )
        self.write(
            {
                "state": "running",
                "total_count": len(parsed.calls),
                "error_count": len(parsed.errors),
                "report": "\n".join(str(e) for e in parsed.errors[:MAX_ERRORS_SHOWN]) or False,
            }
        )
        if len(parsed.calls) <= self._sync_limit:
            self._import_batches(parsed.calls)
        else:
            self.env.ref("phone_call_accounting.ir_cron_phone_cdr_import")._trigger()
        return self._reopen()

    def action_refresh(self):
        return self._reopen()

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    @api.model
    def _cron_import_cdr_files(self):
        """Import the files left to the background, a batch per commit."""
        for wizard in self.search([("state", "=", "running")]):
            wizard._import_batches(wizard._parse().calls, commit=True)

    def _import_batches(self, calls, commit=False):
        """Ingest ``calls`` from where the last batch stopped; resumable."""
        self.ensure_one()
        cron = self.env["ir.cron"]
        if commit:
            cron._commit_progress(remaining=len(calls) - self.done_count)
        for start in range(self.done_count, len(calls), BATCH):
            batch = calls[start : start + BATCH]
            results = self.pbx_id._ingest(batch)
            rejected = [
                f"{r['external_id']}: {r['reason']}" for r in results if r["result"] == "rejected"
            ]
            report = [self.report] if self.report else []
            self.write(
                {
                    "done_count": start + len(batch),
                    "created_count": self.created_count
                    + sum(r["result"] == "created" for r in results),
                    "updated_count": self.updated_count
                    + sum(r["result"] == "updated" for r in results),
                    "rejected_count": self.rejected_count + len(rejected),
                    "report": "\n".join(report + rejected[:MAX_ERRORS_SHOWN]) or False,
                }
            )
            if commit and not cron._commit_progress(len(batch)):
                return
        self.write({"state": "done"})
        self.pbx_id.last_sync = fields.Datetime.now()
