import {_t} from "@web/core/l10n/translation";
import {registry} from "@web/core/registry";
import {useService} from "@web/core/utils/hooks";
import {Component, onWillStart, onWillUnmount, useState} from "@odoo/owl";

export const LIVE_NOTIFICATION = "phone_call_accounting/live";
// However busy the PBX, a screen asks for new figures at most this often; the
// last change of a burst is always shown (a trailing refresh).
export const MIN_REFRESH_MS = 400;
// A safety net: today's figures move with calls that end, not only with live events.
const FULL_REFRESH_MS = 60000;

/** "m:ss" (or "h:mm:ss") of a number of seconds. */
export function formatWait(seconds) {
    const total = Math.max(0, Math.floor(seconds || 0));
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const rest = String(total % 60).padStart(2, "0");
    return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
}

/**
 * Calls ``refresh`` at most once per ``delay`` ms, one at a time: a request
 * made while one runs or too soon after it is kept and made later (once).
 */
export function throttleRefresh(refresh, delay) {
    let running = false;
    let wanted = false;
    let last = 0;
    let timer = null;
    const run = async () => {
        timer = null;
        if (running) {
            wanted = true;
            return;
        }
        running = true;
        wanted = false;
        last = Date.now();
        try {
            await refresh();
        } finally {
            running = false;
            if (wanted) {
                schedule();
            }
        }
    };
    const schedule = () => {
        if (timer) {
            return;
        }
        if (running) {
            wanted = true;
            return;
        }
        timer = setTimeout(run, Math.max(0, last + delay - Date.now()));
    };
    schedule.cancel = () => {
        clearTimeout(timer);
        timer = null;
        wanted = false;
    };
    return schedule;
}

/** Phone → Wallboard: the queues and the calls in progress, live. */
export class PhoneWallboard extends Component {
    static template = "phone_call_accounting.Wallboard";
    static props = ["*"];

    setup() {
        this.orm = useService("orm");
        this.bus = useService("bus_service");
        this.state = useState({data: null, now: Date.now(), offset: 0, error: false});
        this.refreshes = 0;
        this.refreshSoon = throttleRefresh(() => this.refresh(), MIN_REFRESH_MS);
        onWillStart(() => this.refresh());
        const onLive = () => this.refreshSoon();
        this.bus.subscribe(LIVE_NOTIFICATION, onLive);
        this.bus.start();
        const ticker = setInterval(() => (this.state.now = Date.now()), 1000);
        const safety = setInterval(() => this.refreshSoon(), FULL_REFRESH_MS);
        onWillUnmount(() => {
            clearInterval(ticker);
            clearInterval(safety);
            this.refreshSoon.cancel();
            this.bus.unsubscribe(LIVE_NOTIFICATION, onLive);
        });
    }

    async refresh() {
        try {
            const data = await this.orm.silent.call("phone.queue", "wallboard_data", []);
            // Waits count on the server's clock: the wall display's may be off.
            this.state.offset = Date.parse(data.now) - Date.now();
            this.state.data = data;
            this.state.now = Date.now();
            this.state.error = false;
            this.refreshes++;
        } catch {
            this.state.error = true;
        }
    }

    secondsSince(iso) {
        if (!iso) {
            return 0;
        }
        return (this.state.now + this.state.offset - Date.parse(iso)) / 1000;
    }

    since(iso) {
        return iso ? formatWait(this.secondsSince(iso)) : "–";
    }

    percent(value) {
        return value === false ? "–" : `${Math.round(value)}%`;
    }

    seconds(value) {
        return value === false ? "–" : formatWait(value);
    }

    callState(call) {
        return call.state === "ringing" ? _t("Ringing") : _t("Talking");
    }

    toggleFullscreen() {
        if (document.fullscreenElement) {
            document.exitFullscreen();
        } else {
            document.querySelector(".o_phone_wallboard")?.requestFullscreen?.();
        }
    }
}

registry.category("actions").add("phone_call_accounting.wallboard", PhoneWallboard);
