import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { user } from "@web/core/user";
import { Component, onWillStart, onWillUnmount, useState } from "@odoo/owl";

const REFRESH_MS = 60000;

/** Missed calls not called back yet, in the navbar; a click lists them. */
export class CallbackCounter extends Component {
    static template = "phone_call_accounting.CallbackCounter";
    static props = {};

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.state = useState({ count: 0, visible: false });
        onWillStart(async () => {
            this.state.visible = await user.hasGroup("phone_call_accounting.group_phone_user");
            await this.refresh();
        });
        const timer = setInterval(() => this.refresh(), REFRESH_MS);
        onWillUnmount(() => clearInterval(timer));
    }

    async refresh() {
        if (this.state.visible) {
            this.state.count = await this.orm.call("phone.call", "phone_callback_count", []);
        }
    }

    async open() {
        await this.action.doAction("phone_call_accounting.phone_call_callback_action");
        await this.refresh();
    }
}

registry
    .category("systray")
    .add("phone_call_accounting.CallbackCounter", { Component: CallbackCounter }, { sequence: 30 });
