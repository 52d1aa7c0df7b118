from odoo import api, fields, models
from odoo.exceptions import ValidationError

KINDS = [("status", "Status"), ("direction", "Direction")]


class PhoneCallPicture(models.Model):
    """The picture a user chose for one call status or direction."""

    _name = "phone.call.picture"
    _description = "Call Status and Direction Picture"
    _order = "kind desc, sequence, id"

    kind = fields.Selection(KINDS, required=True)
    value = fields.Selection(
        selection="_selection_value",
        required=True,
        help="The status or direction this picture stands for.",
    )
    # In the reader's language: the labels of the call's own fields.
    name = fields.Char(compute="_compute_name", search="_search_name")
    sequence = fields.Integer(default=10)
    image = fields.Image(string="Picture", max_width=128, max_height=128, required=True)

    _kind_value_unique = models.Constraint(
        "UNIQUE(kind, value)", "Each status and each direction has one picture."
    )

    @api.model
    def _selection_value(self):
        # A callable selection is not translated by Odoo: the labels come
        # translated from the call's own fields.
        call = self.env["phone.call"]
        return call._fields["status"]._description_selection(self.env) + call._fields[
            "direction"
        ]._description_selection(self.env)

    @api.constrains("kind", "value")
    def _check_value(self):
        call_fields = self.env["phone.call"]._fields
        for picture in self:
            allowed = dict(call_fields[picture.kind].selection)
            if picture.value not in allowed:
                raise ValidationError(
                    self.env._(
                        "%(value)s is not a call %(kind)s.", value=picture.value, kind=picture.kind
                    )
                )

    @api.depends("kind", "value")
    @api.depends_context("lang")
    def _compute_name(self):
        labels = dict(self._selection_value())
        kinds = dict(self._fields["kind"]._description_selection(self.env))
        for picture in self:
            picture.name = f"{kinds.get(picture.kind, '')}: {labels.get(picture.value, '')}"

    def _search_name(self, operator, value):
        if operator not in ("ilike", "=", "like", "=ilike") or not isinstance(value, str):
            return NotImplemented
        wanted = value.strip().lower()
        matches = self.search_fetch([], ["kind", "value"]).filtered(
            lambda p: wanted in p.name.lower()
        )
        return [("id", "in", matches.ids)]

    @api.model
    def _picture_urls(self):
        """Map (kind, value) to an image URL, cached per request by the caller."""
        urls = {}
        for picture in self.search_fetch([], ["kind", "value", "write_date"]):
            unique = picture.write_date and int(picture.write_date.timestamp() * 1000)
            urls[(picture.kind, picture.value)] = (
                f"/web/image/phone.call.picture/{picture.id}/image/32x32?unique={unique}"
            )
        return urls
