import {stepUtils} from "@web_tour/tour_utils";

/**
 * Steps that open the Phone app, then each menu of ``path`` in turn: pairs of
 * the element (a section is a button, an item a link) and the menu's xml id.
 */
export function openPhoneMenu(...path) {
    return [
        stepUtils.showAppsMenuItem(),
        {
            trigger: '.o_app[data-menu-xmlid="phone_call_accounting.phone_menu_root"]',
            run: "click",
        },
        ...path.map(([element, xmlid]) => ({
            trigger: `${element}[data-menu-xmlid="phone_call_accounting.${xmlid}"]`,
            run: "click",
        })),
    ];
}
