import {registry} from "@web/core/registry";
import {stepUtils} from "@web_tour/tour_utils";

registry.category("web_tour.tours").add("phone_call_accounting_tour", {
    url: "/odoo",
    steps: () => [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open the Phone app",
            trigger: '.o_app[data-menu-xmlid="phone_call_accounting.phone_menu_root"]',
            run: "click",
        },
        {
            content: "Today's calls are shown by default",
            trigger: '.o_searchview_facet:contains("Today")',
        },
        {
            content: "The tour's call is in the list, coloured as answered",
            trigger:
                '.o_list_view .o_data_row.text-success td[name="partner_id"]:contains("Tour Client")',
        },
        {
            content: "The missed call is coloured as missed",
            trigger: ".o_list_view .o_data_row.text-danger",
        },
        {
            content: "Open the search options",
            trigger: ".o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: "Group by call date",
            trigger: '.o_group_by_menu .o_accordion_toggle:contains("Call Date")',
            run: "click",
        },
        {
            content: "...by day",
            trigger: '.o_group_by_menu .o_item_option:contains("Day")',
            run: "click",
        },
        {
            content: "One group for today",
            trigger: ".o_list_view .o_group_header",
            run: "click",
        },
        {
            content: "Open the answered call",
            trigger: '.o_data_row td[name="partner_id"]:contains("Tour Client")',
            run: "click",
        },
        {
            content: "The call form shows the client's history",
            trigger: '.o_form_view .o_notebook a:contains("Client History")',
            run: "click",
        },
        {
            content: "History lists the client's calls",
            trigger: '.o_form_view div[name="partner_call_ids"] .o_data_row',
        },
        {
            content: "The Client's Calls button counts the client's calls",
            trigger: '.o_form_view button[name="action_view_partner_calls"]:contains("2")',
            run: "click",
        },
        {
            content: "...and opens them, not the contact card",
            trigger: '.o_breadcrumb .active:contains("Calls of Tour Client")',
        },
        {
            content: "Both calls of the client are listed",
            trigger: ".o_list_view .o_data_row:nth-child(2)",
        },
        {
            content: "Back to the call",
            trigger: ".o_breadcrumb .breadcrumb-item:last-child a",
            run: "click",
        },
        {
            content: "Go to the client",
            trigger: '.o_form_view button[name="action_open_partner"]',
            run: "click",
        },
        {
            content: "The client form has a Calls smart button",
            trigger: '.o_form_view button[name="action_view_phone_calls"]:contains("2")',
        },
        {
            content: "Open the client's Calls tab",
            trigger: '.o_form_view .o_notebook a:contains("Calls")',
            run: "click",
        },
        {
            content: "The client's call history is there",
            trigger: '.o_form_view div[name="phone_recent_call_ids"] .o_data_row',
        },
    ],
});
