/**
 * Opens the Phone app and clicks every Phone menu and submenu the user sees (read from the
 * menu service, which the navbar renders), waits for each screen to load, opens the first
 * record of a list in its form and comes back, switches to each of the action's other views,
 * and fails on any error dialog ("Oops! Something went wrong") or failed server call. Which menus must be
 * there depends on the user's groups: Calls, To Call Back and Reporting for everyone;
 * Configuration for Phone managers, its Settings and Extensions for administrators only.
 * Started by tests/test_menus.py.
 */
import {App} from "@odoo/owl";
import {rpcBus} from "@web/core/network/rpc";
import {registry} from "@web/core/registry";
import {user} from "@web/core/user";
import {stepUtils} from "@web_tour/tour_utils";

const ROOT = "phone_call_accounting.phone_menu_root";
const CONFIG = "phone_call_accounting.phone_config_menu";
const USER_MENUS = [
    "phone_call_accounting.phone_call_menu",
    "phone_call_accounting.phone_call_callback_menu",
    "phone_call_accounting.phone_call_report_menu",
    "phone_call_accounting.phone_call_report_hour_menu",
    "phone_call_accounting.phone_call_report_employee_menu",
    "phone_call_accounting.phone_call_report_queue_menu",
];
const MANAGER_MENUS = [
    "phone_call_accounting.phone_wallboard_menu",
    "phone_call_accounting.phone_pbx_menu",
    "phone_call_accounting.phone_queue_menu",
    "phone_call_accounting.phone_client_type_menu",
    "phone_call_accounting.phone_tariff_menu",
    "phone_call_accounting.phone_keyword_menu",
    "phone_call_accounting.phone_call_picture_menu",
];
const SYSTEM_MENUS = [
    "phone_call_accounting.phone_settings_menu",
    "phone_call_accounting.res_users_menu",
];
const LOAD_TIMEOUT = 30000;

const pendingRPCs = new Map(); // request id -> url
const failedRPCs = [];
let watching = false;

function watchRPCs() {
    if (watching) {
        return;
    }
    watching = true;
    rpcBus.addEventListener("RPC:REQUEST", ({detail}) => {
        pendingRPCs.set(detail.data.id, detail.url);
    });
    rpcBus.addEventListener("RPC:RESPONSE", ({detail}) => {
        pendingRPCs.delete(detail.data.id);
        if (detail.error) {
            const {model, method} = detail.data.params || {};
            const what = model ? `${model}.${method}` : detail.data.method;
            const {name, message} = detail.error.data || detail.error;
            failedRPCs.push(`${what}: ${name ? `${name}: ` : ""}${message}`);
        }
    });
}

function nextFrame() {
    return new Promise((resolve) => setTimeout(() => requestAnimationFrame(resolve)));
}

/** Throws the text of an error dialog or of a failed server call, naming where it was. */
function checkNoError(where) {
    const dialog = [...document.querySelectorAll(".o_dialog .modal-content")].find(
        (content) =>
            content.matches(".o_error_dialog") ||
            /Oops|Something went wrong/i.test(content.querySelector(".modal-title")?.innerText)
    );
    if (dialog || document.querySelector(".o_error_dialog")) {
        const text = (dialog || document.querySelector(".o_error_dialog")).innerText;
        throw new Error(`${where}: error dialog\n${text.slice(0, 3000)}`);
    }
    if (failedRPCs.length) {
        throw new Error(`${where}: server call failed\n${failedRPCs.join("\n")}`);
    }
}

/** Waits until ``condition()`` holds, no RPC is pending and Owl has rendered everything. */
async function waitLoaded(where, condition) {
    const start = Date.now();
    for (;;) {
        checkNoError(where);
        const busy =
            pendingRPCs.size > 0 || [...App.apps].some((app) => app.scheduler.tasks.size > 0);
        if (!busy && condition()) {
            await nextFrame();
            checkNoError(where);
            if (condition() && pendingRPCs.size === 0) {
                return;
            }
        }
        if (Date.now() - start > LOAD_TIMEOUT) {
            throw new Error(
                `${where}: not loaded within ${LOAD_TIMEOUT / 1000} s` +
                    ` (pending: ${[...pendingRPCs.values()].join(", ") || "none"})`
            );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
}

function click(element) {
    for (const type of ["pointerdown", "mousedown", "pointerup", "mouseup", "click"]) {
        const init = {bubbles: true, cancelable: true, view: window};
        element.dispatchEvent(new MouseEvent(type, init));
    }
}

/** The clickable entry of a menu in the navbar, or in its open section dropdown. */
function menuEntry(xmlid) {
    return document.querySelector(
        `.o_menu_sections [data-menu-xmlid="${xmlid}"]:not(.dropdown-toggle), ` +
            `.o-dropdown--menu [data-menu-xmlid="${xmlid}"]`
    );
}

// The screen walk (phone_screens_tour) also checks each screen's layout at the
// test browser's 1366 x 768: nothing cut, nothing wider than the window, and on
// a Korean screen none of the addon's English labels.
const layout = {on: false, english: new Set(), problems: []};
const LABELS = [
    ".o_list_view thead th",
    ".o_form_view .o_form_label",
    ".o_form_view .o_horizontal_separator",
    ".o_form_view .o_notebook .nav-link",
    ".o_form_view .o_stat_text",
    ".o_form_view .badge",
    ".o_list_view .badge",
    ".o_control_panel .breadcrumb-item",
    ".o_control_panel .o_last_breadcrumb_item",
    ".o_form_view .btn:not(.o_external_button):not(.o_field_many2one_selection .btn)",
    ".o_control_panel .btn",
    ".o_pivot th",
    ".o_setting_box .o_form_label",
    ".o_searchview_facet",
];
// Where the text itself is the screen's (menus, selection values shown as text).
const WORDS = [
    ...LABELS,
    ".o_menu_sections .dropdown-toggle",
    ".o_menu_sections .o_nav_entry",
    ".o_field_selection span",
    ".o_field_badge span",
    ".o_calendar_renderer .fc-col-header-cell",
];

function visible(element) {
    const rect = element.getBoundingClientRect();
    return rect.width > 0 && rect.height > 0 && getComputedStyle(element).visibility !== "hidden";
}

/** The element (or a truncating descendant) whose text is cut, or null. */
function cutPart(element) {
    for (const part of [element, ...element.querySelectorAll(".text-truncate, span, div")]) {
        if (!part.innerText?.trim() || !visible(part)) {
            continue;
        }
        const style = getComputedStyle(part);
        const clips = style.overflowX !== "visible" || style.textOverflow === "ellipsis";
        if (clips && part.scrollWidth > part.clientWidth + 1 && part.clientWidth > 0) {
            return part;
        }
    }
    return null;
}

/** A one-line label (button, badge, header) broken over two lines. */
function wrapped(element) {
    if (!element.matches(".btn, .badge, .nav-link, .o_stat_text") || !element.innerText.trim()) {
        return false;
    }
    const style = getComputedStyle(element);
    const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.25;
    const inner =
        element.getBoundingClientRect().height -
        parseFloat(style.paddingTop) -
        parseFloat(style.paddingBottom) -
        parseFloat(style.borderTopWidth) -
        parseFloat(style.borderBottomWidth);
    return inner > line * 1.6;
}

function checkLayout(where) {
    if (!layout.on) {
        return;
    }
    const found = [];
    for (const element of document.querySelectorAll(LABELS.join(", "))) {
        if (
            !visible(element) ||
            element.closest(".o_optional_columns_dropdown, .o-dropdown--menu")
        ) {
            continue;
        }
        const cut = cutPart(element);
        if (cut) {
            found.push(
                `cut: "${cut.innerText.trim()}" (${cut.scrollWidth} > ${cut.clientWidth} px)`
            );
        } else if (wrapped(element)) {
            found.push(`wrapped: "${element.innerText.trim().replace(/\s+/g, " ")}"`);
        }
    }
    for (const selector of [".o_action_manager .o_content", ".o_list_renderer", ".o_pivot"]) {
        for (const box of document.querySelectorAll(selector)) {
            if (visible(box) && box.scrollWidth > box.clientWidth + 1) {
                found.push(
                    `wider than the window: ${selector} ${box.scrollWidth} > ${box.clientWidth} px`
                );
            }
        }
    }
    if (document.documentElement.scrollWidth > window.innerWidth + 1) {
        found.push(`page wider than the window: ${document.documentElement.scrollWidth} px`);
    }
    if (layout.english.size && user.lang.startsWith("ko")) {
        for (const element of document.querySelectorAll(WORDS.join(", "))) {
            if (!visible(element)) {
                continue;
            }
            const text = element.innerText.trim().replace(/\s+/g, " ");
            const parts = [text, ...text.split(/\s*[:/>\n]\s*/)];
            const english = parts.find((part) => layout.english.has(part));
            if (english) {
                found.push(`English on a Korean screen: "${english}" in "${text.slice(0, 80)}"`);
            }
        }
    }
    for (const problem of new Set(found)) {
        layout.problems.push(`${where}: ${problem}`);
    }
}

/** Each notebook tab of the open form, checked in turn. */
async function checkFormTabs(env, where) {
    const tabs = [
        ...document.querySelectorAll(".o_action_manager .o_form_view .o_notebook .nav-link"),
    ];
    for (const tab of tabs) {
        if (!visible(tab)) {
            continue;
        }
        click(tab);
        await waitLoaded(`${where}, tab ${tab.innerText.trim()}`, () =>
            tab.classList.contains("active")
        );
        checkLayout(`${where}, tab "${tab.innerText.trim()}"`);
    }
}

/** The calendar at its day and week scales. */
async function checkCalendarScales(where) {
    for (const scale of ["day", "week"]) {
        const toggle = document.querySelector(".o_view_scale_selector .scale_button_selection");
        if (!toggle) {
            return;
        }
        click(toggle);
        await waitLoaded(`${where}, scale menu`, () =>
            document.querySelector(`.o_scale_button_${scale}`)
        );
        click(document.querySelector(`.o_scale_button_${scale}`));
        await waitLoaded(`${where}, ${scale} scale`, () =>
            document.querySelector(
                `.o_calendar_renderer .fc-timeGrid${scale === "day" ? "Day" : "Week"}-view`
            )
        );
        checkLayout(`${where}, calendar ${scale}`);
    }
}

/** Opens the list's first record in its form, as a click on the row does, and comes back. */
async function openFirstRecord(env, where) {
    const controller = env.services.action.currentController;
    const cell = document.querySelector(".o_list_view .o_data_row td.o_data_cell");
    if (!cell || !controller.views.some((view) => view.type === "form")) {
        return false; // no record, or a list edited in place
    }
    click(cell);
    await waitLoaded(
        `${where}, first record's form`,
        () =>
            env.services.action.currentController?.view.type === "form" &&
            document.querySelector(".o_action_manager .o_form_view .o_form_renderer")
    );
    checkLayout(`${where}, first record's form`);
    if (layout.on) {
        await checkFormTabs(env, `${where}, first record's form`);
    }
    click(document.querySelector(".o_control_panel .o_back_button a"));
    await waitLoaded(
        `${where}, back to the list`,
        () =>
            env.services.action.currentController === controller &&
            document.querySelector(".o_action_manager .o_list_view .o_data_row")
    );
    return true;
}

async function openMenu(env, menu, section) {
    const where = `menu ${menu.xmlid} (${menu.name})`;
    let entry = menuEntry(menu.xmlid);
    if (!entry && section) {
        const toggle = document.querySelector(
            `.o_menu_sections .dropdown-toggle[data-menu-xmlid="${section.xmlid}"]`
        );
        if (!toggle) {
            throw new Error(`${where}: section ${section.xmlid} is not in the navbar`);
        }
        click(toggle);
        await waitLoaded(`${where}, opening ${section.name}`, () => menuEntry(menu.xmlid));
        entry = menuEntry(menu.xmlid);
    }
    if (!entry) {
        throw new Error(`${where}: not in the navbar`);
    }
    const before = env.services.action.currentController;
    click(entry);
    await waitLoaded(where, () => {
        const controller = env.services.action.currentController;
        return (
            controller &&
            controller !== before &&
            controller.action.id === menu.actionID &&
            document.querySelector(
                controller.action.type === "ir.actions.client"
                    ? ".o_action_manager .o_action"
                    : ".o_action_manager .o_view_controller"
            ) &&
            !document.querySelector(".o-dropdown--menu")
        );
    });
    const {action, view} = env.services.action.currentController;
    // A client action (the wallboard) has no view: its tag stands for it.
    const views = [view?.type || action.tag];
    checkLayout(`${where}, ${views[0]} view`);
    if (views[0] === "form" && layout.on) {
        await checkFormTabs(env, where);
    }
    if (views[0] === "list" && (await openFirstRecord(env, where))) {
        views.push("form of the first record");
    }
    // Every other view of the action: the web client loads each when it is picked.
    for (const button of document.querySelectorAll(
        ".o_control_panel .o_cp_switch_buttons .o_switch_view:not(.active)"
    )) {
        const viewType = [...button.classList]
            .find((cls) => cls.startsWith("o_") && cls !== "o_switch_view")
            .slice(2);
        const target = document.querySelector(
            `.o_control_panel .o_cp_switch_buttons .o_switch_view.o_${viewType}`
        );
        click(target);
        await waitLoaded(
            `${where}, ${viewType} view`,
            () =>
                env.services.action.currentController?.view.type === viewType &&
                document.querySelector(`.o_action_manager .o_view_controller.o_${viewType}_view`)
        );
        checkLayout(`${where}, ${viewType} view`);
        if (viewType === "calendar" && layout.on) {
            await checkCalendarScales(where);
        }
        views.push(viewType);
    }
    console.log(`phone_menus_tour: ${menu.xmlid} opened, views ${views.join(", ")}`);
    checkNoError(where);
}

// What the steps found, across steps.
const walked = {visited: [], seen: []};

function phoneTree() {
    const env = odoo.__WOWL_DEBUG__.root.env;
    const app = env.services.menu.getApps().find((menu) => menu.xmlid === ROOT);
    if (!app) {
        throw new Error("The Phone app is not in the apps menu");
    }
    return {env, tree: env.services.menu.getMenuAsTree(app.id)};
}

/**
 * Opens a top menu of Phone, or every leaf of a section, in navbar order (sub-sections
 * are headings in their section's dropdown). Does nothing for a menu the user does not see.
 */
async function walkTop(xmlid) {
    watchRPCs();
    const {env, tree} = phoneTree();
    async function walk(menu, section) {
        walked.seen.push(menu.xmlid);
        if (!menu.childrenTree.length && menu.actionID && !walked.visited.includes(menu.xmlid)) {
            await openMenu(env, menu, section);
            walked.visited.push(menu.xmlid);
        }
        for (const child of menu.childrenTree) {
            await walk(child, section);
        }
    }
    for (const top of tree.childrenTree) {
        if (xmlid === undefined ? !walked.seen.includes(top.xmlid) : top.xmlid === xmlid) {
            await walk(top, top.childrenTree.length ? top : null);
        }
    }
}

/** The menus the user's groups must show were all opened, and no other. */
async function checkWalked() {
    const isManager = await user.hasGroup("phone_call_accounting.group_phone_manager");
    const isSystem = await user.hasGroup("base.group_system");
    const expected = [
        ...USER_MENUS,
        ...(isManager ? MANAGER_MENUS : []),
        ...(isManager && isSystem ? SYSTEM_MENUS : []),
    ];
    const {visited, seen} = walked;
    const missing = expected.filter((xmlid) => !visited.includes(xmlid));
    if (missing.length) {
        throw new Error(`Phone menus not opened: ${missing.join(", ")} (opened: ${visited})`);
    }
    if (!isManager && seen.includes(CONFIG)) {
        throw new Error("A Phone user sees Phone → Configuration");
    }
    if (!(isManager && isSystem) && SYSTEM_MENUS.some((xmlid) => seen.includes(xmlid))) {
        throw new Error("Settings or Extensions shown to a non-administrator");
    }
    console.log(`phone_menus_tour: ${visited.length} Phone menus opened without error`);
    document.body.classList.add("o_phone_menus_walked");
}

function walkStep(content, xmlid) {
    return {
        content,
        trigger: ".o_main_navbar .o_menu_sections",
        timeout: 60000,
        run: () => walkTop(xmlid),
    };
}

function walkSteps() {
    return [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open the Phone app",
            trigger: `.o_app[data-menu-xmlid="${ROOT}"]`,
            run: "click",
        },
        {
            content: "The app opens on its first screen",
            trigger: ".o_action_manager .o_view_controller",
        },
        walkStep("Calls, each of its views", "phone_call_accounting.phone_call_menu"),
        walkStep("To Call Back", "phone_call_accounting.phone_call_callback_menu"),
        walkStep("Reporting → each report", "phone_call_accounting.phone_reporting_menu"),
        walkStep("Configuration → each (managers only)", CONFIG),
        walkStep("Any other Phone menu"),
        {
            content: "Every menu the user's groups show was opened",
            trigger: ".o_main_navbar .o_menu_sections",
            run: checkWalked,
        },
        {
            content: "No error dialog is left",
            trigger: "body.o_phone_menus_walked:not(:has(.o_error_dialog))",
        },
    ];
}

registry.category("web_tour.tours").add("phone_menus_tour", {
    url: "/odoo",
    steps: walkSteps,
});

/**
 * The same walk with every notebook tab and the calendar's day and week scales,
 * failing on a cut or wrapped label, a screen wider than the window and, for a
 * Korean user, an English label of the addon (the test stores them in the
 * parameter phone_call_accounting.tour_english_labels). Started by
 * tests/test_screens.py in English and in Korean.
 */
registry.category("web_tour.tours").add("phone_screens_tour", {
    url: "/odoo",
    steps: () => [
        {
            content: "Switch the layout checks on",
            trigger: ".o_main_navbar",
            async run() {
                // The checks themselves must see a cut header and a wrapped button.
                const probe = document.createElement("div");
                probe.innerHTML =
                    '<span class="text-truncate d-block" style="width:30px">A header far too long</span>' +
                    '<button class="btn btn-secondary" style="width:40px">Two words</button>';
                document.body.append(probe);
                const [header, button] = probe.children;
                const caught = cutPart(header) && wrapped(button);
                probe.remove();
                if (!caught) {
                    throw new Error("the layout checks miss a cut header or a wrapped button");
                }
                const env = odoo.__WOWL_DEBUG__.root.env;
                const english = await env.services.orm.call("ir.config_parameter", "get_param", [
                    "phone_call_accounting.tour_english_labels",
                ]);
                layout.on = true;
                layout.english = new Set(JSON.parse(english || "[]"));
            },
        },
        ...walkSteps(),
        {
            content: "No screen had a layout problem",
            trigger: "body.o_phone_menus_walked",
            run() {
                if (layout.problems.length) {
                    throw new Error(
                        `${layout.problems.length} layout problem(s) at ${window.innerWidth} px:\n` +
                            layout.problems.join("\n")
                    );
                }
                console.log(`phone_screens_tour: every screen fits ${window.innerWidth} px`);
            },
        },
    ],
});
