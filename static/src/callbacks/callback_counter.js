import {registry} from "@web/core/registry";
import {useService} from "@web/core/utils/hooks";
import {useDebounced} from "@web/core/utils/timing";
import {user} from "@web/core/user";
import {Component, onWillStart, onWillUnmount, useState} from "@odoo/owl";

export const CALLBACKS_NOTIFICATION = "phone_call_accounting/callbacks";
const CALLBACK_ACTION = "phone_call_accounting.phone_call_callback_action";
// A safety net only: the server tells every Phone user's client when calls to
// call back change (a missed call, Mark Called Back, a call back logged).
const REFRESH_MS = 5 * 60000;
// Changes come in bursts (a batch of calls): one count for a burst.
const BURST_MS = 300;

/** Missed calls not called back yet, in the navbar; a click lists them. */
export class CallbackCounter extends Component {
    static template = "phone_call_accounting.CallbackCounter";
    static props = {};

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.bus = useService("bus_service");
        this.state = useState({count: 0, visible: false});
        this.refreshSoon = useDebounced(() => this.refresh(), BURST_MS);
        onWillStart(async () => {
            this.state.visible = await user.hasGroup("phone_call_accounting.group_phone_user");
            await this.refresh();
        });
        const onChange = () => this.refreshSoon();
        this.bus.subscribe(CALLBACKS_NOTIFICATION, onChange);
        this.bus.start();
        const timer = setInterval(() => this.refresh(), REFRESH_MS);
        onWillUnmount(() => {
            clearInterval(timer);
            this.bus.unsubscribe(CALLBACKS_NOTIFICATION, onChange);
        });
    }

    async refresh() {
        if (this.state.visible) {
            this.state.count = await this.orm.silent.call("phone.call", "phone_callback_count", []);
        }
    }

    async open() {
        // As its menu does: the list alone, not stacked on the screen left behind.
        await this.action.doAction(CALLBACK_ACTION, {clearBreadcrumbs: true});
        await this.refresh();
    }
}

registry
    .category("systray")
    .add("phone_call_accounting.CallbackCounter", {Component: CallbackCounter}, {sequence: 30});
