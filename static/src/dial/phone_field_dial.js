import {useState} from "@odoo/owl";
import {patch} from "@web/core/utils/patch";
import {PhoneField} from "@web/views/fields/phone/phone_field";

const SERVICE = "phone_call_accounting.dial";

patch(PhoneField.prototype, {
    setup() {
        super.setup();
        // Absent in test environments that do not start every service.
        this.phoneDial = SERVICE in this.env.services ? this.env.services[SERVICE] : null;
        this.phoneDialState = this.phoneDial ? useState(this.phoneDial.state) : {canDial: false};
        this.phoneDial?.ensureInfo();
    },
    get showPhoneDial() {
        return Boolean(this.phoneDialState.canDial && this.props.record.data[this.props.name]);
    },
    async onPhoneDial() {
        await this.phoneDial.dial(this.props.record.data[this.props.name]);
    },
});
