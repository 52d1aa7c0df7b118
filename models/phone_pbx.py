import logging
import re
import secrets
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..pbx import cdr_database, numbers, originate, recordings, ringing, webhooks

_logger = logging.getLogger(__name__)

RINGING_NOTIFICATION = "phone_call_accounting/ringing"
DIAL_TIMEOUT = 5.0

KINDS = [
    ("asterisk_ami", "Asterisk (AMI listener)"),
    ("webhook", "Webhook from another PBX"),
    ("cdr_file", "CDR files (Master.csv upload)"),
    ("cdr_database", "CDR database (PostgreSQL)"),
]
WEBHOOK_FORMATS = [
    ("native", "Native (this addon's call schema)"),
    ("yeastar", "Yeastar P-Series (event 30012)"),
    ("3cx", "3CX (call journal template)"),
    ("freeswitch", "FreeSWITCH (CHANNEL_HANGUP_COMPLETE)"),
]


def _tz_selection(self):
    # res.partner's tz selection is a plain list in some Odoo 19 builds, a function in others.
    selection = self.env["res.partner"]._fields["tz"].selection
    return selection(self.env["res.partner"]) if callable(selection) else list(selection)


class PhonePbx(models.Model):
    """One telephone exchange that delivers calls, with its secrets."""

    _name = "phone.pbx"
    _description = "Telephone Exchange (PBX)"
    _order = "sequence, name, id"

    name = fields.Char(required=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    kind = fields.Selection(KINDS, required=True, default="asterisk_ami")
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    country_id = fields.Many2one(
        "res.country",
        help="Country of numbers without an international prefix; the company's default "
        "phone country when empty.",
    )
    timezone = fields.Selection(
        _tz_selection,
        default="UTC",
        required=True,
        help="Time zone of the times the PBX writes without one (CDR files, Yeastar).",
    )
    trunk_patterns = fields.Text(
        help="One regular expression per line matching the channel names of provider trunks, "
        "e.g. ^SIP/voipgrid- or ^PJSIP/provider-. Every other channel is a desk phone.",
    )
    webhook_format = fields.Selection(WEBHOOK_FORMATS, default="native", required=True)
    token = fields.Char(
        string="Secret Token",
        copy=False,
        groups="phone_call_accounting.group_phone_manager",
        default=lambda self: secrets.token_urlsafe(32),
        help="Sent by the PBX as a bearer token, or used as the key of the HMAC-SHA256 "
        "signature of the body.",
    )
    webhook_url = fields.Char(compute="_compute_webhook_url")
    ami_host = fields.Char(string="AMI Host", default="127.0.0.1")
    ami_port = fields.Integer(string="AMI Port", default=5038)
    ami_username = fields.Char(string="AMI User")
    ami_secret = fields.Char(
        string="AMI Secret", groups="phone_call_accounting.group_phone_manager"
    )
    cdr_db_host = fields.Char(string="CDR Database Host")
    cdr_db_port = fields.Integer(string="CDR Database Port", default=5432)
    cdr_db_name = fields.Char(string="CDR Database Name", default="asteriskcdrdb")
    cdr_db_user = fields.Char(string="CDR Database User")
    cdr_db_password = fields.Char(
        string="CDR Database Password", groups="phone_call_accounting.group_phone_manager"
    )
    cdr_db_table = fields.Char(string="CDR Table", default="cdr")
    cdr_watermark = fields.Datetime(
        string="CDR Pulled Until",
        copy=False,
        help="End time of the last CDR row taken; the next pull starts after it.",
    )
    cdr_settle_seconds = fields.Integer(
        default=120,
        help="Rows that ended more recently than this are left for the next pull, "
        "so that every leg of a call has been written.",
    )
    recording_source = fields.Selection(
        [("none", "Not fetched"), ("url", "Web address"), ("directory", "Local directory")],
        default="none",
        required=True,
    )
    recording_url_template = fields.Char(
        help="Where a recording is downloaded from: {name} (file name), {path} (as the PBX "
        "gave it), {year}, {month}, {day} (of the call) and {external_id}, e.g. "
        "https://pbx.example.com/monitor/{year}/{month}/{day}/{name}",
    )
    recording_username = fields.Char()
    recording_password = fields.Char(groups="phone_call_accounting.group_phone_manager")
    recording_verify_tls = fields.Boolean(string="Verify TLS Certificate", default=True)
    recording_directory = fields.Char(
        help="A directory on the Odoo server (e.g. a mount of /var/spool/asterisk/monitor)."
    )
    recording_max_mb = fields.Integer(string="Largest Recording (MB)", default=50)
    last_sync = fields.Datetime(readonly=True, copy=False)
    last_error = fields.Text(readonly=True, copy=False)
    call_count = fields.Integer(compute="_compute_call_count")
    dial_channel_template = fields.Char(
        default="PJSIP/{extension}",
        help="Channel of a user's desk phone, rung first by click to dial; {extension} is "
        "the user's phone extension (e.g. PJSIP/{extension}, SIP/{extension}).",
    )
    dial_context = fields.Char(
        default="from-internal",
        help="Dialplan context in which the client's number is dialled once the user "
        "picks up (FreePBX: from-internal).",
    )
    dial_prefix = fields.Char(
        string="Outside Line Prefix",
        help="Dialled before every outside number, e.g. 9 or 0; empty when none is needed.",
    )
    dial_international_prefix = fields.Char(
        default="00",
        help="Dialled before the country code of a number abroad (00 in most of the "
        "world, 011 from North America).",
    )
    dial_ring_seconds = fields.Integer(
        string="Ring Own Phone (s)",
        default=30,
        help="How long click to dial rings the user's phone before giving up.",
    )

    _token_unique = models.Constraint("UNIQUE(token)", "Each PBX needs its own secret token.")

    @api.depends("kind")
    def _compute_webhook_url(self):
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        for pbx in self:
            pbx.webhook_url = f"{base}/phone_call_accounting/pbx/{pbx.id}/calls" if pbx.id else ""

    def _compute_call_count(self):
        counts = dict(
            self.env["phone.call"]._read_group(
                [("pbx_id", "in", self.ids)], ["pbx_id"], ["__count"]
            )
        )
        for pbx in self:
            pbx.call_count = counts.get(pbx, 0)

    @api.constrains("trunk_patterns")
    def _check_trunk_patterns(self):
        for pbx in self:
            for pattern in pbx._trunk_regexes():
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValidationError(
                        self.env._("Trunk pattern %(p)s is not valid: %(e)s", p=pattern, e=exc)
                    ) from exc

    def _trunk_regexes(self):
        self.ensure_one()
        return [line.strip() for line in (self.trunk_patterns or "").splitlines() if line.strip()]

    def _source(self):
        self.ensure_one()
        return f"pbx-{self.id}"

    def _country_code(self):
        self.ensure_one()
        return self.country_id.code or self.company_id._phone_country_code()

    def _ingest(self, items):
        """Deliver call dicts from this PBX through the one way in."""
        self.ensure_one()
        return self.env["phone.call"]._ingest_calls(items, pbx=self)

    def action_regenerate_token(self):
        for pbx in self:
            pbx.token = secrets.token_urlsafe(32)

    def action_pull_cdr_now(self):
        self.ensure_one()
        try:
            results = self._pull_cdr_database()
        except cdr_database.CdrDatabaseError as exc:
            raise UserError(str(exc)) from exc
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("CDR pull"),
                "message": self.env._("%s calls taken.", len(results)),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def action_view_calls(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "phone_call_accounting.phone_call_action"
        )
        action["domain"] = [("pbx_id", "=", self.id)]
        action["context"] = {}
        return action

    def _map_webhook_body(self, payload, fmt=None):
        """Return (items, rejections) for a decoded webhook body."""
        self.ensure_one()
        fmt = fmt or self.webhook_format
        items, rejected = [], {}
        for index, raw in enumerate(webhooks.batch_items(payload, fmt)):
            try:
                items.append(webhooks.map_item(raw, fmt, self.timezone, self._trunk_regexes()))
            except webhooks.MappingError as exc:
                rejected[index] = str(exc)
                items.append(None)
        return items, rejected

    def _recording_max_bytes(self):
        return max(self.recording_max_mb, 1) * 1024 * 1024

    def _fetch_recording(self, call):
        """Download ``call``'s recording as this PBX is set up to serve it."""
        if not self:
            raise recordings.RecordingError(self.env._("the call has no PBX to fetch from"))
        self.ensure_one()
        name = call.recording
        if self.recording_source == "url" and self.recording_url_template:
            url = recordings.expand(
                self.recording_url_template, name, call.call_start, call.external_id
            )
            auth = (self.recording_username, self.sudo().recording_password or "")
            return recordings.fetch_url(
                url,
                auth=auth if self.recording_username else None,
                max_bytes=self._recording_max_bytes(),
                verify=self.recording_verify_tls,
            )
        if self.recording_source == "directory" and self.recording_directory:
            return recordings.fetch_file(
                self.recording_directory, name, max_bytes=self._recording_max_bytes()
            )
        raise recordings.RecordingError(
            self.env._("PBX %s is not set up to fetch recordings", self.name)
        )

    # ------------------------------------------------------------------
    # CDR database pull
    # ------------------------------------------------------------------

    @api.model
    def _cron_pull_cdr_databases(self):
        for pbx in self.search([("kind", "=", "cdr_database")]):
            try:
                pbx._pull_cdr_database()
            except cdr_database.CdrDatabaseError as exc:
                # Keep the watermark: the next run retries from the same point.
                _logger.warning("CDR pull of PBX %s failed: %s", pbx.name, exc)
                pbx.last_error = str(exc)
            self.env["ir.cron"]._commit_progress(1)

    def _pull_cdr_database(self, limit=5000):
        """Pull the rows that ended after the watermark and ingest their calls."""
        self.ensure_one()
        if not self.cdr_db_host and not self.cdr_db_name:
            raise UserError(self.env._("Set the CDR database of %s first.", self.name))
        source = cdr_database.CdrSource(
            host=self.cdr_db_host,
            port=self.cdr_db_port,
            dbname=self.cdr_db_name,
            user=self.cdr_db_user,
            password=self.sudo().cdr_db_password,
            table=self.cdr_db_table or "cdr",
        )
        since = self.cdr_watermark or fields.Datetime.now() - timedelta(days=30)
        batch = source.pull(
            since=since,
            settle_seconds=self.cdr_settle_seconds,
            limit=limit,
            timezone=self.timezone,
            trunks=self._trunk_regexes(),
        )
        results = self._ingest(batch.calls) if batch.calls else []
        self.write(
            {
                "cdr_watermark": batch.watermark or self.cdr_watermark,
                "last_sync": fields.Datetime.now(),
                "last_error": "\n".join(str(e) for e in batch.errors) or False,
            }
        )
        return results

    # ------------------------------------------------------------------
    # Ringing pop-up and click to dial
    # ------------------------------------------------------------------

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
            last_calls = [
                {
                    "id": call.id,
                    "start": fields.Datetime.to_string(call.call_start),
                    "direction": call.direction,
                    "direction_label": directions.get(call.direction, call.direction),
                    "status": call.status,
                    "status_label": statuses.get(call.status, call.status),
                    "duration": call.duration,
                }
                for call in calls
            ]
        can_create = (
            creatable
            and number.kind == numbers.EXTERNAL
            and number.valid
            and not partner
            and env["res.partner"].has_access("create")
        )
        default_type = self.company_id.phone_default_client_type_id
        country = (
            env["res.country"].sudo().search([("code", "=", number.region)], limit=1)
            if can_create and number.region
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
            "create_defaults": {
                "default_phone": number.e164,
                "default_phone_client_type_id": default_type.id or False,
                "default_country_id": country.id or False,
            }
            if can_create
            else False,
        }

    @api.model
    def _dial_pbx(self, company):
        """The active Asterisk PBX of ``company`` that click to dial goes through."""
        return self.sudo().search(
            [("kind", "=", "asterisk_ami"), ("company_id", "=", company.id)], limit=1
        )

    @api.model
    def _dial(self, user, number):
        """Ring ``user``'s desk phone, then dial ``number`` (AMI Originate)."""
        user = user.sudo()
        if not user.phone_extension:
            raise UserError(
                self.env._("You have no phone extension; ask your administrator to set one.")
            )
        company = self.env.company if self.env.company in user.company_ids else user.company_id
        pbx = self._dial_pbx(company)
        if not pbx:
            raise UserError(
                self.env._(
                    "No active Asterisk PBX is set up for %s; ask your administrator.",
                    company.name,
                )
            )
        if not pbx.ami_host or not pbx.ami_port:
            raise UserError(
                self.env._("Set the AMI host and port of PBX %s for click to dial.", pbx.name)
            )
        try:
            target = originate.dialling_form(
                number,
                pbx._country_code(),
                international_prefix=pbx.dial_international_prefix or "",
                outside_prefix=pbx.dial_prefix or "",
            )
        except originate.OriginateError as exc:
            raise UserError(self.env._("%s cannot be dialled.", number or "")) from exc
        try:
            channel = (pbx.dial_channel_template or "PJSIP/{extension}").format(
                extension=user.phone_extension
            )
        except (KeyError, IndexError, ValueError) as exc:
            raise UserError(
                self.env._(
                    "The dial channel of PBX %(pbx)s is not valid: %(error)s",
                    pbx=pbx.name,
                    error=exc,
                )
            ) from exc
        try:
            originate.originate(
                pbx.ami_host,
                pbx.ami_port,
                pbx.ami_username or "",
                pbx.ami_secret or "",
                channel=channel,
                exten=target,
                context=pbx.dial_context or "from-internal",
                caller_id=f'"{user.name.replace(chr(34), "")}" <{user.phone_extension}>',
                timeout=DIAL_TIMEOUT,
                ring_timeout=max(pbx.dial_ring_seconds, 5),
            )
        except originate.OriginateError as exc:
            _logger.warning("Click to dial for %s failed: %s", user.login, exc)
            raise UserError(self.env._("Your phone could not be rung: %s", str(exc))) from exc
        _logger.info(
            "Click to dial: %s (%s) -> %s through PBX %s", user.login, channel, target, pbx.name
        )
        return {"pbx": pbx, "channel": channel, "exten": target}
