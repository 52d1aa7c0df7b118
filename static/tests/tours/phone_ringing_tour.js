import {rpc} from "@web/core/network/rpc";
import {registry} from "@web/core/registry";

/** Post a ringing event as the PBX does: its own route, its bearer token. */
async function postRinging(event) {
    const [pbx] = await rpc("/web/dataset/call_kw/phone.pbx/search_read", {
        model: "phone.pbx",
        method: "search_read",
        args: [[["name", "=", "Tour Ringing PBX"]], ["id", "token"]],
        kwargs: {},
    });
    const response = await fetch(`/phone_call_accounting/pbx/${pbx.id}/ringing`, {
        method: "POST",
        headers: {"Content-Type": "application/json", Authorization: `Bearer ${pbx.token}`},
        body: JSON.stringify(event),
    });
    const result = await response.json();
    if (response.status !== 200 || result.notified !== 1) {
        throw new Error(`ringing event refused: ${response.status} ${JSON.stringify(result)}`);
    }
}

/** Each element of ``selector`` in the pop-up reads on one line, nothing cut. */
function checkOneLine(selector, what) {
    const elements = document.querySelectorAll(`.o_phone_ringing ${selector}`);
    if (!elements.length) {
        throw new Error(`${what}: nothing matches ${selector}`);
    }
    for (const element of elements) {
        const lineHeight = parseFloat(getComputedStyle(element).lineHeight) || 20;
        const lines = element.getClientRects().length;
        if (lines > 1 || element.getBoundingClientRect().height > lineHeight * 1.5) {
            throw new Error(`${what} wraps: "${element.innerText}"`);
        }
        if (element.scrollWidth > element.clientWidth + 1) {
            throw new Error(`${what} is cut: "${element.innerText}"`);
        }
    }
}

function checkValue(selector, expected) {
    const input = document.querySelector(selector);
    // phone_validation formats the number on the form: compare the digits.
    if (!input || input.value.replace(/\s/g, "") !== expected) {
        throw new Error(`${selector} holds ${input?.value}, expected ${expected}`);
    }
}

registry.category("web_tour.tours").add("phone_call_accounting_ringing_tour", {
    url: "/odoo",
    steps: () => [
        {
            content: "The web client is up; the PBX says extension 201 rings",
            trigger: ".o_main_navbar",
            run: () =>
                postRinging({
                    from_number: "020 555 0999",
                    to_number: "+31207940100",
                    extensions: ["201"],
                    call_id: "tour-ring-1",
                }),
        },
        {
            content: "The pop-up names the client and the number",
            trigger:
                '.o_notification.o_phone_ringing:contains("Tour Client"):contains("+31 20 555 0999")',
        },
        {
            content: "... shows the client type with its picture",
            trigger:
                '.o_phone_ringing .o_phone_ringing_type:contains("Customer") img.o_phone_ringing_type_image[src*="/web/image/phone.client.type/"]',
        },
        {
            content: "... and the last three calls with this client, each on one line",
            trigger: ".o_phone_ringing table.o_phone_ringing_calls tr:nth-child(3)",
            run: () => {
                const rows = document.querySelectorAll(".o_phone_ringing_calls tr");
                if (rows.length !== 3) {
                    throw new Error(`expected 3 last calls, got ${rows.length}`);
                }
                checkOneLine(".o_phone_ringing_call", "A last call");
                // Dated as the calls list: date, then the 24-hour time with seconds.
                for (const cell of document.querySelectorAll(".o_phone_ringing_when")) {
                    if (!/ \d{2}:\d{2}:\d{2}$/.test(cell.innerText)) {
                        throw new Error(`last call dated "${cell.innerText}", not as the list`);
                    }
                }
                checkOneLine(".o_phone_ringing_number", "The caller's number");
                const table = document.querySelector(".o_phone_ringing_calls");
                const box = table.closest(".o_notification").getBoundingClientRect();
                if (table.getBoundingClientRect().right > box.right) {
                    throw new Error("The last calls stick out of the pop-up");
                }
            },
        },
        {
            content: "Open the client",
            trigger: '.o_notification.o_phone_ringing button:contains("Open client")',
            run: "click",
        },
        {
            content: "The client's form is open",
            trigger: '.o_form_view .o_last_breadcrumb_item:contains("Tour Client")',
        },
        {
            content: "Click to dial: the Dial button next to the client's phone",
            trigger: '.o_form_view div[name="phone"] .o_phone_dial_button',
            run: "click",
        },
        {
            content: "The user is told that the desk phone rings",
            trigger: '.o_notification:contains("Your phone is ringing")',
        },
        {
            content: "An unknown number rings extension 201",
            trigger: ".o_main_navbar",
            run: () =>
                postRinging({
                    from_number: "+31612345678",
                    extensions: ["201"],
                    call_id: "tour-ring-2",
                }),
        },
        {
            content: "The pop-up offers to create the client",
            trigger:
                '.o_notification.o_phone_ringing:contains("+31 6 12345678") button:contains("Create client")',
            run: "click",
        },
        {
            content: "A new contact form, the number filled in",
            trigger: '.o_form_view .o_last_breadcrumb_item:contains("New")',
            run: () =>
                checkValue('.o_form_view .o_field_widget[name="phone"] input', "+31612345678"),
        },
        {
            content: "A mobile number outside the numbering plan rings extension 201",
            trigger: ".o_main_navbar",
            run: () =>
                postRinging({
                    from_number: "+31 6 9999 0000",
                    extensions: ["201"],
                    call_id: "tour-ring-3",
                }),
        },
        {
            content: "It may become a client too",
            trigger:
                '.o_notification.o_phone_ringing:contains("+31 6 99990000") button:contains("Create client")',
            run: () => checkOneLine(".o_phone_ringing_number", "The caller's number"),
        },
    ],
});
