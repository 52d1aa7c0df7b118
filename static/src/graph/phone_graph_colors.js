import {getCustomColor, lightenColor, darkenColor} from "@web/core/colors/colors";
import {cookie} from "@web/core/browser/cookie";
import {sortBy} from "@web/core/utils/arrays";
import {patch} from "@web/core/utils/patch";
import {SEP} from "@web/views/graph/graph_model";
import {GraphRenderer} from "@web/views/graph/graph_renderer";

/** The models whose graphs colour calls by status. */
export const PHONE_GRAPH_MODELS = ["phone.call", "phone.call.report"];

/**
 * Each status and the theme colour of its decoration in the call list
 * (answered: success, missed: danger, busy: warning, unknown: info, failed: muted),
 * with a fallback when the variable cannot be read.
 */
const STATUS_COLOR_VARIABLES = {
    answered: ["--success", "#28a745"],
    missed: ["--danger", "#dc3545"],
    busy: ["--warning", "#ffac00"],
    unknown: ["--info", "#17a2b8"],
    failed: ["--gray-600", "#6c757d"],
};

const NEUTRAL_COLOR = "#adb5bd";

/**
 * The status colours of the current theme (light or dark), read from the
 * CSS variables that Bootstrap's text-bg-* badges of the list use.
 * @returns {Object<string, string>} status value -> CSS colour
 */
export function getStatusColors() {
    const style = getComputedStyle(document.documentElement);
    const colors = {};
    for (const [status, [variable, fallback]] of Object.entries(STATUS_COLOR_VARIABLES)) {
        colors[status] = style.getPropertyValue(variable).trim() || fallback;
    }
    return colors;
}

/** The status value of each group of `identifier` (the graph model's raw group values). */
function statusOfIdentifier(identifier, index, spec) {
    try {
        const rawValues = JSON.parse(identifier);
        return rawValues[index]?.[spec];
    } catch {
        return undefined;
    }
}

patch(GraphRenderer.prototype, {
    /**
     * Where the status is among the current groupings, when this graph is one of
     * ours; null otherwise.
     */
    _phoneStatusGroupBy() {
        const {resModel, groupBy} = this.model.metaData;
        if (!PHONE_GRAPH_MODELS.includes(resModel)) {
            return null;
        }
        const index = (groupBy || []).findIndex((gb) => gb.fieldName === "status");
        if (index === -1) {
            return null;
        }
        return {index, spec: groupBy[index].spec, count: groupBy.length};
    },

    /**
     * Colour of each chart label (pie slices, or bars when grouped by status only),
     * found through the data point the label was made of; undefined where none.
     */
    _phoneColorsOfLabels(labels, status) {
        const colors = getStatusColors();
        const statusOfLabel = {};
        for (const dataPoint of this.model.dataPoints || []) {
            statusOfLabel[dataPoint.labels.join(SEP)] = statusOfIdentifier(
                dataPoint.identifier,
                status.index,
                status.spec
            );
        }
        return labels.map((label) => colors[statusOfLabel[label]]);
    },

    /** Colour of a dataset made of one status (stacked bars, lines). */
    _phoneColorOfDataset(dataset, status) {
        const [identifier] = dataset.identifiers || [];
        const value = identifier && statusOfIdentifier(identifier, status.index, status.spec);
        return getStatusColors()[value];
    },

    getBarChartData() {
        const data = super.getBarChartData(...arguments);
        const status = this._phoneStatusGroupBy();
        if (!status) {
            return data;
        }
        if (status.index > 0) {
            for (const dataset of this.model.data.datasets) {
                const color = this._phoneColorOfDataset(dataset, status);
                if (color) {
                    dataset.backgroundColor = color;
                }
            }
        } else if (status.count === 1) {
            const colors = this._phoneColorsOfLabels(this.model.data.labels, status);
            if (colors.every(Boolean)) {
                for (const dataset of this.model.data.datasets) {
                    dataset.backgroundColor = colors;
                }
            }
        }
        return data;
    },

    getLineChartData() {
        const data = super.getLineChartData(...arguments);
        const status = this._phoneStatusGroupBy();
        if (!status || status.index === 0) {
            return data;
        }
        const colorScheme = cookie.get("color_scheme");
        for (const dataset of data.datasets) {
            const color = this._phoneColorOfDataset(dataset, status);
            if (color) {
                dataset.borderColor = color;
                dataset.hoverBackgroundColor = color;
                dataset.pointBackgroundColor = color;
                dataset.backgroundColor = getCustomColor(
                    colorScheme,
                    lightenColor(color, 0.5),
                    darkenColor(color, 0.5)
                );
            }
        }
        return data;
    },

    getPieChartData() {
        const data = super.getPieChartData(...arguments);
        const status = this._phoneStatusGroupBy();
        if (!status) {
            return data;
        }
        const colors = this._phoneColorsOfLabels(data.labels, status);
        if (colors.every(Boolean)) {
            for (const dataset of data.datasets) {
                dataset.backgroundColor = colors;
                dataset.hoverBackgroundColor = colors;
            }
        }
        return data;
    },

    getLegendOptions() {
        const options = super.getLegendOptions(...arguments);
        const {mode} = this.model.metaData;
        const generateLabels = options.labels?.generateLabels;
        if (!generateLabels || !this._phoneStatusGroupBy()) {
            return options;
        }
        if (mode === "pie") {
            // Odoo's pie legend recomputes its colours by position: take the slices' own.
            options.labels.generateLabels = (chart) =>
                generateLabels(chart).map((item) => {
                    const colors = chart.data.datasets[0]?.backgroundColor;
                    const color = Array.isArray(colors) ? colors[item.index] : null;
                    return color ? {...item, fillStyle: color} : item;
                });
        } else {
            // A measure whose bars each have their status colour: a neutral legend box.
            options.labels.generateLabels = (chart) =>
                generateLabels(chart).map((item) =>
                    Array.isArray(item.fillStyle)
                        ? {...item, fillStyle: NEUTRAL_COLOR, strokeStyle: NEUTRAL_COLOR}
                        : item
                );
        }
        return options;
    },

    getTooltipItems(data, metaData, tooltipModel) {
        const items = super.getTooltipItems(...arguments);
        if (metaData.mode !== "bar" || !this._phoneStatusGroupBy()) {
            return items;
        }
        // Bars coloured one by one: each tooltip line takes its own bar's colour.
        const sortedDataPoints = sortBy(tooltipModel.dataPoints, "raw", "desc");
        return items.map((item, i) => {
            const point = sortedDataPoints[i];
            const colors = point && data.datasets[point.datasetIndex]?.backgroundColor;
            return Array.isArray(colors) ? {...item, boxColor: colors[point.dataIndex]} : item;
        });
    },
});
