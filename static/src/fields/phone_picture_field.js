import {registry} from "@web/core/registry";
import {BadgeField, badgeField} from "@web/views/fields/badge/badge_field";

/**
 * A call's status or direction with its picture (Configuration > Status and
 * Direction Pictures) in one column under the field's own header: the
 * picture, then the value as a badge (``badge`` option) or as its name in
 * the picture's tooltip only.
 */
export class PhonePictureField extends BadgeField {
    static template = "phone_call_accounting.PhonePictureField";
    static props = {
        ...BadgeField.props,
        pictureField: {type: String},
        badge: {type: Boolean, optional: true},
    };

    get pictureUrl() {
        return this.props.record.data[this.props.pictureField];
    }
}

registry.category("fields").add("phone_picture", {
    ...badgeField,
    component: PhonePictureField,
    fieldDependencies: ({options}) => [{name: options.picture_field, type: "char", readonly: true}],
    extractProps: (fieldInfo, dynamicInfo) => ({
        ...badgeField.extractProps(fieldInfo, dynamicInfo),
        pictureField: fieldInfo.options.picture_field,
        badge: Boolean(fieldInfo.options.badge),
    }),
});
