import {registry} from "@web/core/registry";
import {openPhoneMenu} from "@phone_call_accounting/../tests/tours/phone_tour_steps";

/**
 * Each status label (as admin reads it) and the theme colour of its decoration in
 * the call list: answered success, missed danger, busy warning, unknown info,
 * failed muted grey.
 */
const EXPECTED = {
    Answered: "--success",
    Missed: "--danger",
    Busy: "--warning",
    Unknown: "--info",
    Failed: "--gray-600",
};

/** Any CSS colour as the browser computes it, e.g. "rgb(40, 167, 69)". */
function computed(color) {
    const probe = document.createElement("span");
    probe.style.color = color;
    document.body.appendChild(probe);
    const value = getComputedStyle(probe).color;
    probe.remove();
    return value;
}

function expectedColor(statusLabel) {
    const variable = EXPECTED[statusLabel];
    const value = getComputedStyle(document.documentElement).getPropertyValue(variable).trim();
    if (!value) {
        throw new Error(`The theme defines no ${variable}`);
    }
    return computed(value);
}

function currentChart() {
    const canvas = document.querySelector(".o_graph_canvas_container canvas");
    const chart = canvas && window.Chart?.getChart(canvas);
    if (!chart) {
        throw new Error("No Chart.js chart in the graph view");
    }
    return chart;
}

/** [status label, colour] of every coloured part: datasets, or pie slices. */
function checkColors(pairs, where) {
    const seen = new Set();
    for (const [label, color] of pairs) {
        if (!(label in EXPECTED)) {
            continue;
        }
        seen.add(label);
        const actual = computed(color);
        const expected = expectedColor(label);
        if (actual !== expected) {
            throw new Error(`${where}: "${label}" is ${actual}, expected ${expected}`);
        }
    }
    const missing = Object.keys(EXPECTED).filter((label) => !seen.has(label));
    if (missing.length) {
        throw new Error(`${where}: no ${missing.join(", ")} in the chart`);
    }
}

function checkStackedBars(where) {
    const chart = currentChart();
    if (chart.config.type !== "bar") {
        throw new Error(`${where}: a ${chart.config.type} chart, expected bars`);
    }
    checkColors(
        chart.data.datasets.map((dataset) => [dataset.label, dataset.backgroundColor]),
        where
    );
    // The legend shows the same colours as the bars.
    checkColors(
        chart.legend.legendItems.map((item) => [item.text, item.fillStyle]),
        `${where} (legend)`
    );
}

function checkPie(where) {
    const chart = currentChart();
    if (chart.config.type !== "pie") {
        throw new Error(`${where}: a ${chart.config.type} chart, expected a pie`);
    }
    const [dataset] = chart.data.datasets;
    // Slices are labelled "<day> / <status>": the status is the last part.
    const statusOf = (label) => label.split(" / ").at(-1);
    checkColors(
        chart.data.labels.map((label, i) => [statusOf(label), dataset.backgroundColor[i]]),
        where
    );
    checkColors(
        chart.legend.legendItems.map((item) => [statusOf(item.text), item.fillStyle]),
        `${where} (legend)`
    );
}

registry.category("web_tour.tours").add("phone_call_accounting_graph_colors_tour", {
    url: "/odoo",
    steps: () => [
        ...openPhoneMenu(["button", "phone_reporting_menu"], ["a", "phone_call_report_menu"]),
        {
            trigger: '.o_searchview_facet:contains("Last 30 Days")',
        },
        {
            content: "Calls per day, stacked by status: each status has its list colour",
            trigger: ".o_graph_view .o_graph_canvas_container canvas",
            run() {
                checkStackedBars("Call Analysis, bars");
            },
        },
        {
            content: "Switch to the pie chart",
            trigger: '.o_graph_view .o_graph_button[data-mode="pie"]',
            run: "click",
        },
        {
            content: "Each slice has the colour of its status",
            trigger: '.o_graph_view .o_graph_button.active[data-mode="pie"]',
            run() {
                checkPie("Call Analysis, pie");
            },
        },
        {
            content: "Go to the calls",
            trigger:
                'a[data-menu-xmlid="phone_call_accounting.phone_call_menu"], button[data-menu-xmlid="phone_call_accounting.phone_call_menu"]',
            run: "click",
        },
        {
            trigger: ".o_list_view .o_data_row",
        },
        {
            content: "Switch to the graph",
            trigger: "button.o_switch_view.o_graph",
            run: "click",
        },
        {
            content: "The calls' own graph colours its statuses the same way",
            trigger: ".o_graph_view .o_graph_canvas_container canvas",
            run() {
                checkStackedBars("Calls, bars");
            },
        },
    ],
});
