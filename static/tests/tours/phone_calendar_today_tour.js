/**
 * The calendar's Today button goes to the call time zone's today (the day the
 * calls list's Today filter shows), not the browser's. Started by
 * tests/test_tour.py with the browser in a zone whose date differs from the
 * company's at the moment the test runs.
 */
import {registry} from "@web/core/registry";

const {DateTime} = luxon;
const known = {};

function shownDay() {
    return document.querySelector(".o_calendar_view .fc-timegrid-col[data-date]")?.dataset.date;
}

/** The day shown once it meets ``wanted`` (the calendar redraws after a click). */
async function dayShown(wanted) {
    for (let tries = 0; tries < 50 && !wanted(shownDay()); tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return shownDay();
}

registry.category("web_tour.tours").add("phone_calendar_today_tour", {
    url: "/odoo/action-phone_call_accounting.phone_call_action?view_type=calendar",
    steps: () => [
        {
            content: "The call zone's today differs from the browser's",
            trigger: ".o_calendar_view .fc-timeGridDay-view",
            run: async () => {
                const {orm} = odoo.__WOWL_DEBUG__.root.env.services;
                const zone = await orm.call("res.users", "phone_call_timezone", []);
                known.today = DateTime.now().setZone(zone).toISODate();
                if (known.today === DateTime.local().toISODate()) {
                    throw new Error(
                        `the browser has the call zone's date (${zone}): nothing to show`
                    );
                }
            },
        },
        {
            content: "It opens on the call zone's today",
            trigger: ".o_calendar_view .fc-timegrid-col[data-date]",
            run: () => {
                if (shownDay() !== known.today) {
                    throw new Error(`The calendar opens on ${shownDay()}, not ${known.today}`);
                }
            },
        },
        {
            content: "Go to the next day",
            trigger: ".o_calendar_button_next",
            run: "click",
        },
        {
            content: "... another day is shown",
            trigger: ".o_calendar_view .fc-timegrid-col[data-date]",
            run: async () => {
                const day = await dayShown((shown) => shown !== known.today);
                if (day === known.today) {
                    throw new Error(`Next still shows ${day}`);
                }
            },
        },
        {
            content: "Today",
            trigger: ".o_calendar_button_today",
            run: "click",
        },
        {
            content: "... is the call zone's today",
            trigger: ".o_calendar_view .fc-timegrid-col[data-date]",
            run: async () => {
                const day = await dayShown((shown) => shown === known.today);
                if (day !== known.today) {
                    throw new Error(`Today shows ${day}, the calls' today is ${known.today}`);
                }
            },
        },
    ],
});
