/**
 * Opens the Phone app and clicks every Phone menu and submenu the user sees (read from the
 * menu service, which the navbar renders), waits for each screen to load, opens the first
 * record of a list in its form and comes back, switches to each of the action's other views,
 * and fails on any error dialog ("Oops! Something went wrong") or failed server call. Which menus must be
 * there depends on the user's groups: Calls, To Call Back and Reporting for everyone;
 * Configuration for Phone managers, its Settings and Extensions for administrators only.
 * Started by tests/test_menus.py.
 */
import { App } from "@odoo/owl";
import { rpcBus } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";
import { user } from "@web/core/user";
import { stepUtils } from "@web_tour/tour_utils";

const ROOT = "phone_call_accounting.phone_menu_root";
const CONFIG = "phone_call_accounting.phone_config_menu";
const USER_MENUS = [
    "phone_call_accounting.phone_call_menu",
    "phone_call_accounting.phone_call_callback_menu",
    "phone_call_accounting.phone_call_report_menu",
    "phone_call_accounting.phone_call_report_hour_menu",
    "phone_call_accounting.phone_call_report_employee_menu",
];
const MANAGER_MENUS = [
    "phone_call_accounting.phone_pbx_menu",
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
    rpcBus.addEventListener("RPC:REQUEST", ({ detail }) => {
        pendingRPCs.set(detail.data.id, detail.url);
    });
    rpcBus.addEventListener("RPC:RESPONSE", ({ detail }) => {
        pendingRPCs.delete(detail.data.id);
        if (detail.error) {
            const { model, method } = detail.data.params || {};
            const what = model ? `${model}.${method}` : detail.data.method;
            const { name, message } = detail.error.data || detail.error;
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
            pendingRPCs.size > 0 ||
            [...App.apps].some((app) => app.scheduler.tasks.size > 0);
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
        const init = { bubbles: true, cancelable: true, view: window };
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
            document.querySelector(".o_action_manager .o_view_controller") &&
            !document.querySelector(".o-dropdown--menu")
        );
    });
    const views = [env.services.action.currentController.view.type];
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
        views.push(viewType);
    }
    console.log(`phone_menus_tour: ${menu.xmlid} opened, views ${views.join(", ")}`);
    checkNoError(where);
}

// What the steps found, across steps.
const walked = { visited: [], seen: [] };

function phoneTree() {
    const env = odoo.__WOWL_DEBUG__.root.env;
    const app = env.services.menu.getApps().find((menu) => menu.xmlid === ROOT);
    if (!app) {
        throw new Error("The Phone app is not in the apps menu");
    }
    return { env, tree: env.services.menu.getMenuAsTree(app.id) };
}

/**
 * Opens a top menu of Phone, or every leaf of a section, in navbar order (sub-sections
 * are headings in their section's dropdown). Does nothing for a menu the user does not see.
 */
async function walkTop(xmlid) {
    watchRPCs();
    const { env, tree } = phoneTree();
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
    const { visited, seen } = walked;
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

registry.category("web_tour.tours").add("phone_menus_tour", {
    url: "/odoo",
    steps: () => [
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
    ],
});
