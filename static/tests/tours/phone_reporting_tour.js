import {registry} from "@web/core/registry";
import {openPhoneMenu} from "@phone_call_accounting/../tests/tours/phone_tour_steps";

registry.category("web_tour.tours").add("phone_call_accounting_reporting_tour", {
    url: "/odoo",
    steps: () => [
        ...openPhoneMenu(["button", "phone_reporting_menu"], ["a", "phone_call_report_menu"]),
        {
            content: "A manager first sees calls per day, split by status",
            trigger: ".o_graph_view .o_graph_renderer canvas",
        },
        {
            trigger: '.o_searchview_facet:contains("Last 30 Days")',
        },
        {
            content: "Switch to the pivot",
            trigger: "button.o_switch_view.o_pivot",
            run: "click",
        },
        {
            content: "The pivot shows the answer rate",
            trigger: '.o_pivot thead th:contains("Answer Rate")',
        },
        {
            content: "One of two incoming calls answered reads 50 %, not 5,000 %",
            trigger: '.o_pivot tbody td.o_pivot_cell_value:contains("50%")',
        },
        {
            content: "Average talk time reads as a duration, not seconds",
            trigger: '.o_pivot tbody td.o_pivot_cell_value:contains("00:00:42")',
        },
    ],
});
