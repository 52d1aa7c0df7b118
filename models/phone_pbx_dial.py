import logging

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..pbx.asterisk import originate

_logger = logging.getLogger(__name__)

DIAL_TIMEOUT = 5.0


class PhonePbx(models.Model):
    """Click to dial: the user's desk phone rings, then the client is dialled."""

    _inherit = "phone.pbx"

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
            # The technical detail (address, errno, AMI text) is for the log.
            _logger.warning("Click to dial for %s failed: %s", user.login, exc)
            raise UserError(_dial_failure(self.env, exc.kind, pbx.name)) from exc
        _logger.info(
            "Click to dial: %s (%s) -> %s through PBX %s", user.login, channel, target, pbx.name
        )
        return {"pbx": pbx, "channel": channel, "exten": target}


def _dial_failure(env, kind, pbx_name):
    """What a user reads when the PBX did not ring their phone, in their language."""
    messages = {
        "unreachable": env._(
            "Your phone could not be rung: the PBX %s cannot be reached. "
            "Ask your administrator to check its address and that it is running.",
            pbx_name,
        ),
        "login": env._(
            "Your phone could not be rung: the PBX %s refused the connection's user name "
            "or secret. Ask your administrator to check them on the PBX form.",
            pbx_name,
        ),
        "timeout": env._(
            "Your phone could not be rung: the PBX %s did not answer in time. Try again.",
            pbx_name,
        ),
        "refused": env._(
            "Your phone could not be rung: the PBX %s refused to dial this number.", pbx_name
        ),
    }
    return messages.get(
        kind,
        env._("Your phone could not be rung: the PBX %s settings are incomplete.", pbx_name),
    )
