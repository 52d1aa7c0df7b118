import {_t} from "@web/core/l10n/translation";
import {registry} from "@web/core/registry";
import {formatPercentage} from "@web/views/fields/formatters";
import {standardFieldProps} from "@web/views/fields/standard_field_props";
import {Component, xml} from "@odoo/owl";

/**
 * Seconds as h:mm:ss everywhere a duration shows: rows, list totals, pivot
 * and graph measures (they all format through the "formatters" registry).
 */
export function formatPhoneDuration(value) {
    if (value === false || value === null || value === undefined) {
        return "";
    }
    const total = Math.round(Math.abs(value));
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const seconds = total % 60;
    const pad = (n) => String(n).padStart(2, "0");
    return `${value < 0 ? "-" : ""}${pad(hours)}:${pad(minutes)}:${pad(seconds)}`;
}

/** A share (0 to 1) as a percentage; blank where there is nothing to share. */
export function formatPhoneShare(value, options = {}) {
    if (value === false || value === null || value === undefined) {
        return "";
    }
    // One decimal at most, whatever the view passes along: "50%", "33.3%".
    return formatPercentage(value, {...options, digits: [16, 1], trailingZeros: false});
}
formatPhoneShare.extractOptions = formatPercentage.extractOptions;

registry
    .category("formatters")
    .add("phone_duration", formatPhoneDuration)
    .add("phone_share", formatPhoneShare);

class PhoneFormattedField extends Component {
    static template = xml`<span t-esc="formattedValue"/>`;
    static props = {...standardFieldProps};

    get formattedValue() {
        const formatter = registry.category("formatters").get(this.constructor.formatterName);
        return formatter(this.props.record.data[this.props.name]);
    }
}

export class PhoneDurationField extends PhoneFormattedField {
    static formatterName = "phone_duration";
}

export class PhoneShareField extends PhoneFormattedField {
    static formatterName = "phone_share";
}

registry.category("fields").add("phone_duration", {
    component: PhoneDurationField,
    displayName: _t("Duration (h:mm:ss)"),
    supportedTypes: ["integer", "float"],
});
registry.category("fields").add("phone_share", {
    component: PhoneShareField,
    displayName: _t("Share (%)"),
    supportedTypes: ["float"],
});
