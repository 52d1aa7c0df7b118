import {markup} from "@odoo/owl";
import {_t} from "@web/core/l10n/translation";
import {registry} from "@web/core/registry";

export const RINGING_NOTIFICATION = "phone_call_accounting/ringing";
// About as long as a phone rings before voicemail; hovering keeps it open.
const POPUP_MILLISECONDS = 45000;

function formatDuration(seconds) {
    const minutes = Math.floor((seconds || 0) / 60);
    const rest = String((seconds || 0) % 60).padStart(2, "0");
    return `${minutes}:${rest}`;
}

/** The pop-up's body as safe HTML: every value is escaped by the markup tag. */
export function ringingMessage(payload) {
    // Translated outside the markup templates: Odoo's string extractor skips those.
    const title = _t("Ringing on %s", payload.extension);
    const who = payload.partner_name || payload.colleague_name || _t("Unknown caller");
    const number = payload.number || _t("withheld number");
    const lastCalls = _t("Last calls");
    const noCalls = _t("No earlier calls");
    const noCreate = payload.no_create_reason;
    const parts = [
        markup`<div class="o_phone_ringing_title fw-bold mb-1"><i class="fa fa-phone me-1"></i>${title}</div>`,
    ];
    if (payload.client_type) {
        parts.push(
            markup`<div class="o_phone_ringing_type d-flex align-items-center mb-1"><img class="o_phone_ringing_type_image me-2 rounded" src="${payload.client_type.image_url}" alt="${payload.client_type.name}" width="32" height="32"/><span class="badge text-bg-light">${payload.client_type.name}</span></div>`
        );
    }
    parts.push(
        markup`<div class="o_phone_ringing_caller"><strong class="o_phone_ringing_name">${who}</strong> <span class="o_phone_ringing_number text-muted text-nowrap">${number}</span></div>`
    );
    if (noCreate) {
        parts.push(
            markup`<div class="o_phone_ringing_no_create mt-1 small text-muted">${noCreate}</div>`
        );
    }
    if (payload.last_calls?.length) {
        // The server dates each call as the calls list does (call time zone, 24-hour).
        const rows = payload.last_calls.map(
            (call) =>
                markup`<tr class="o_phone_ringing_call o_phone_ringing_${call.status}"><td class="o_phone_ringing_when">${call.when}</td><td>${call.direction_label}</td><td>${call.status_label}</td><td class="text-end">${formatDuration(call.talk_seconds)}</td></tr>`
        );
        parts.push(
            markup`<div class="mt-1 small">${lastCalls}:</div><table class="o_phone_ringing_calls small mb-0"><tbody>${markup(
                rows.join("")
            )}</tbody></table>`
        );
    } else if (payload.partner_id) {
        parts.push(markup`<div class="mt-1 small text-muted">${noCalls}</div>`);
    }
    return markup(parts.join(""));
}

export const phoneRingingService = {
    dependencies: ["action", "bus_service", "notification"],
    start(env, {action, bus_service: bus, notification}) {
        const open = new Map(); // call id + extension -> close function

        function openPartnerForm(values) {
            action.doAction({
                type: "ir.actions.act_window",
                res_model: "res.partner",
                views: [[false, "form"]],
                target: "current",
                ...values,
            });
        }

        function show(payload) {
            const key = `${payload.pbx_id}:${payload.call_id}:${payload.extension}`;
            open.get(key)?.();
            const buttons = [];
            let close = () => {};
            if (payload.can_open && payload.partner_id) {
                buttons.push({
                    name: _t("Open client"),
                    icon: "fa-user",
                    primary: true,
                    onClick: () => {
                        close();
                        openPartnerForm({res_id: payload.partner_id});
                    },
                });
            }
            if (payload.can_create) {
                buttons.push({
                    name: _t("Create client"),
                    icon: "fa-user-plus",
                    primary: true,
                    onClick: () => {
                        close();
                        openPartnerForm({context: payload.create_defaults || {}});
                    },
                });
            }
            close = notification.add(ringingMessage(payload), {
                type: "info",
                className: "o_phone_ringing",
                autocloseDelay: POPUP_MILLISECONDS,
                buttons,
                onClose: () => open.delete(key),
            });
            open.set(key, close);
        }

        bus.subscribe(RINGING_NOTIFICATION, show);
        bus.start();
        return {show};
    },
};

registry.category("services").add("phone_call_accounting.ringing", phoneRingingService);
