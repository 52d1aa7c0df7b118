/**
 * One call, one time: the calls list, the call's form, another call's Client
 * History, the client's Calls tab, the calendar (where the call sits and what its
 * label and details say) and the ringing pop-up's last calls all give the time the
 * list gives, in 24-hour time. The browser runs in another time zone than the
 * company's. Started by tests/test_tour.py: the client "Time Client" has an
 * answered call (whose expected time of day, worked out by the test, is the
 * client's reference) and a missed one a minute later.
 */
import {registry} from "@web/core/registry";

const {DateTime} = luxon;
const CLIENT = "Time Client";
const known = {}; // what the first step reads: the expected time, the client, the PBX

function env() {
    return odoo.__WOWL_DEBUG__.root.env;
}

function checkTime(where, element, expected = known.time) {
    const text = element?.innerText.trim();
    if (text !== expected) {
        throw new Error(`${where} shows the call at "${text}", the list at "${expected}"`);
    }
}

/** The data row of the answered (or missed) call of the client in a list. */
function row(status = "Answered") {
    return `.o_data_row:has(td[name=partner_id]:contains("${CLIENT}")):has(td[name=status]:contains("${status}"))`;
}

registry.category("web_tour.tours").add("phone_call_time_tour", {
    url: "/odoo/action-phone_call_accounting.phone_call_action",
    steps: () => [
        {
            content: "What the test expects; the browser is in another zone than the calls",
            trigger: ".o_list_view",
            run: async () => {
                const {orm} = env().services;
                const [client] = await orm.searchRead(
                    "res.partner",
                    [["name", "=", CLIENT]],
                    ["ref", "phone"]
                );
                Object.assign(known, {time: client.ref, id: client.id, phone: client.phone});
                const zone = await orm.call("res.users", "phone_call_timezone", []);
                const offset = DateTime.now().setZone(zone).offset;
                if (offset === DateTime.local().offset) {
                    throw new Error(`the browser is in the call zone (${zone}): nothing to show`);
                }
            },
        },
        {
            content: "The list gives the call's time",
            trigger: `.o_list_view ${row()} td[name=call_time]`,
            run: ({anchor}) => checkTime("The list", anchor),
        },
        {
            content: "Open the call",
            trigger: `.o_list_view ${row()} td[name=partner_id]`,
            run: "click",
        },
        {
            content: "Its form gives the same time",
            trigger: '.o_form_view .o_field_widget[name="call_time"]',
            run: ({anchor}) => checkTime("The call's form", anchor),
        },
        {
            content: "Back to the list",
            trigger: ".o_breadcrumb .o_back_button a",
            run: "click",
        },
        {
            content: "Open the missed call",
            trigger: `.o_list_view ${row("Missed")} td[name=partner_id]`,
            run: "click",
        },
        {
            content: "Its Client History",
            trigger: '.o_form_view .o_notebook a:contains("Client History")',
            run: "click",
        },
        {
            content: "... gives the answered call the same time",
            trigger: `.o_form_view div[name="partner_call_ids"] .o_data_row td[name=call_time]`,
            run: ({anchor}) => checkTime("The Client History", anchor),
        },
        {
            content: "The client's form",
            trigger: ".o_form_view",
            run: () =>
                env().services.action.doAction({
                    type: "ir.actions.act_window",
                    res_model: "res.partner",
                    res_id: known.id,
                    views: [[false, "form"]],
                }),
        },
        {
            content: "Its Calls tab",
            trigger:
                '.o_form_view .o_notebook a[name="phone_calls"], .o_form_view .o_notebook a:contains("Calls")',
            run: "click",
        },
        {
            content: "... gives the same time",
            trigger: `.o_form_view div[name="phone_recent_call_ids"] .o_data_row:has(td[name=status]:contains("Answered")) td[name=call_time]`,
            run: ({anchor}) => checkTime("The client's Calls tab", anchor),
        },
        {
            content: "The calls calendar",
            trigger: ".o_form_view",
            run: () =>
                env().services.action.doAction("phone_call_accounting.phone_call_action", {
                    viewType: "calendar",
                    clearBreadcrumbs: true,
                }),
        },
        {
            content: "It opens on the day; the call is labelled with its time, client and status",
            trigger: `.o_calendar_view .fc-timeGridDay-view .fc-event:has(.o_phone_calendar_who:contains("${CLIENT}")):has(.o_phone_calendar_status:contains("Answered"))`,
            run: ({anchor}) => {
                checkTime(
                    "The calendar's label",
                    anchor.querySelector(".o_phone_calendar_time"),
                    known.time.slice(0, 5)
                );
                // ... and sits at that time on the grid.
                const [hour, minute] = known.time.split(":").map(Number);
                const slot = `${String(hour).padStart(2, "0")}:${minute < 30 ? "00" : "30"}:00`;
                const lane = document.querySelector(`.fc-timegrid-slot-lane[data-time="${slot}"]`);
                const top = anchor.getBoundingClientRect().top;
                const box = lane.getBoundingClientRect();
                if (top < box.top - 1 || top > box.bottom + 1) {
                    throw new Error(`The calendar shows the call in another slot than ${slot}`);
                }
            },
        },
        {
            content: "Open its details",
            trigger: `.o_calendar_view .fc-event:has(.o_phone_calendar_who:contains("${CLIENT}")):has(.o_phone_calendar_status:contains("Answered"))`,
            run: "click",
        },
        {
            content: "... from the same time on",
            trigger: ".o_cw_popover .fa-clock-o + span",
            run: ({anchor}) => {
                if (!anchor.innerText.startsWith(`${known.time} - `)) {
                    throw new Error(
                        `The calendar's details read "${anchor.innerText}", the list ${known.time}`
                    );
                }
            },
        },
        {
            content: "The client calls: the PBX rings extension 201",
            trigger: ".o_calendar_view",
            run: async () => {
                const [pbx] = await env().services.orm.searchRead(
                    "phone.pbx",
                    [["name", "=", "Time PBX"]],
                    ["token"]
                );
                const response = await fetch(`/phone_call_accounting/pbx/${pbx.id}/ringing`, {
                    method: "POST",
                    headers: {
                        "Content-Type": "application/json",
                        Authorization: `Bearer ${pbx.token}`,
                    },
                    body: JSON.stringify({
                        from_number: known.phone,
                        extensions: ["201"],
                        call_id: "time-tour-ring",
                    }),
                });
                if ((await response.json()).notified !== 1) {
                    throw new Error("the ringing event reached nobody");
                }
            },
        },
        {
            content: "The pop-up's last calls give the same time",
            trigger: `.o_phone_ringing:contains("${CLIENT}") .o_phone_ringing_call.o_phone_ringing_answered .o_phone_ringing_when`,
            run: ({anchor}) => {
                if (!anchor.innerText.endsWith(` ${known.time}`)) {
                    throw new Error(
                        `The pop-up dates the call "${anchor.innerText}", the list ${known.time}`
                    );
                }
            },
        },
    ],
});
