import {reactive} from "@odoo/owl";
import {_t} from "@web/core/l10n/translation";
import {registry} from "@web/core/registry";
import {user} from "@web/core/user";

/**
 * Click to dial: ring the user's own desk phone, then the number (AMI Originate
 * on the server). `state.canDial` turns true once the server said the user has
 * an extension and the company an Asterisk PBX; asked once, on first use.
 */
export const phoneDialService = {
    dependencies: ["action", "notification", "orm"],
    start(env, {action, notification, orm}) {
        const state = reactive({canDial: false, extension: false});
        let asked = null;

        function ensureInfo() {
            asked ||= orm.silent
                .call("res.users", "phone_dial_info", [])
                .then((info) =>
                    Object.assign(state, {canDial: info.can_dial, extension: info.extension})
                )
                .catch(() => {});
            return asked;
        }

        async function dial(number) {
            try {
                const result = await orm.call("res.users", "action_phone_dial", [
                    [user.userId],
                    number,
                ]);
                if (result) {
                    await action.doAction(result);
                }
                return true;
            } catch (error) {
                const message = error?.data?.message || error?.message || String(error);
                notification.add(message, {
                    title: _t("Your phone could not be rung"),
                    type: "danger",
                    className: "o_phone_dial_error",
                });
                return false;
            }
        }

        return {state, ensureInfo, dial};
    },
};

registry.category("services").add("phone_call_accounting.dial", phoneDialService);
