/**
 * The navbar's To Call Back counter: follows Mark Called Back at once (the server
 * tells the web client over the bus), and opens its list without stacking it on
 * itself. Started by tests/test_callbacks.py with two missed calls to call back.
 */
import {registry} from "@web/core/registry";

const COUNTER = ".o_phone_callback_counter";

/** Only "To Call Back" in the breadcrumbs: no screen under it. */
function checkAlone() {
    const items = document.querySelectorAll(".o_breadcrumb .breadcrumb-item");
    const last = document.querySelector(".o_breadcrumb .o_last_breadcrumb_item");
    if (items.length || !last?.innerText.includes("To Call Back")) {
        const trail = [...items, last].map((item) => item?.innerText.trim()).join(" / ");
        throw new Error(`breadcrumbs read "${trail}", not "To Call Back" alone`);
    }
}

registry.category("web_tour.tours").add("phone_callbacks_tour", {
    url: "/odoo",
    steps: () => [
        {
            content: "The counter shows the two missed calls",
            trigger: `${COUNTER} .o_phone_callback_count:contains(2)`,
        },
        {
            content: "Open them from the counter",
            trigger: `${COUNTER} button`,
            run: "click",
        },
        {
            content: "The list of calls to call back",
            trigger: ".o_list_view .o_data_row:nth-child(2) button[name=action_mark_called_back]",
            run: checkAlone,
        },
        {
            content: "The counter again, on its own list",
            trigger: `${COUNTER} button`,
            run: "click",
        },
        {
            content: "... does not stack the list on itself",
            trigger: ".o_list_view .o_data_row:nth-child(2)",
            run: checkAlone,
        },
        {
            content: "Mark the first call called back",
            trigger: ".o_list_view .o_data_row:first-child button[name=action_mark_called_back]",
            run: "click",
        },
        {
            content: "One call left in the list",
            trigger: ".o_list_view:not(:has(.o_data_row:nth-child(2))) .o_data_row",
        },
        {
            content: "The counter follows at once, without a new screen",
            trigger: `${COUNTER} .o_phone_callback_count:contains(1)`,
        },
        {
            content: "The other call is called back from elsewhere (another tab, another user)",
            trigger: ".o_list_view .o_data_row",
            run: async () => {
                const env = odoo.__WOWL_DEBUG__.root.env;
                const [id] = await env.services.orm.search("phone.call", [
                    ["callback_state", "=", "pending"],
                ]);
                await env.services.orm.call("phone.call", "action_mark_called_back", [[id]]);
            },
        },
        {
            content: "The counter empties, on no screen change at all",
            trigger: `${COUNTER}:not(:has(.o_phone_callback_count)) button`,
        },
    ],
});
