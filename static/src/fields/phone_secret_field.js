import {_t} from "@web/core/l10n/translation";
import {registry} from "@web/core/registry";
import {CopyButton} from "@web/core/copy_button/copy_button";
import {CharField, charField} from "@web/views/fields/char/char_field";
import {Component, useState} from "@odoo/owl";

/**
 * A secret an administrator must be able to copy (a PBX's token): masked,
 * shown on demand, with a copy button, as Odoo shows keys to be copied.
 */
export class PhoneSecretField extends Component {
    static template = "phone_call_accounting.PhoneSecretField";
    static components = {CharField, CopyButton};
    static props = {...CharField.props};

    setup() {
        this.state = useState({shown: false});
        this.successText = _t("Copied");
    }

    get charProps() {
        return {...this.props, isPassword: !this.state.shown};
    }

    get revealTitle() {
        return this.state.shown ? _t("Hide") : _t("Show");
    }

    toggle() {
        this.state.shown = !this.state.shown;
    }
}

registry.category("fields").add("phone_secret", {
    ...charField,
    component: PhoneSecretField,
});
