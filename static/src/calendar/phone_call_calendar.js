/**
 * The calls calendar: each call at the time the calls list gives it (its call
 * date and call time, in the company's call time zone, whatever the browser's
 * zone), in 24-hour time, labelled "time client-or-number · status" and coloured
 * by status.
 */
import {deserializeDate, deserializeDateTime, serializeDate} from "@web/core/l10n/dates";
import {registry} from "@web/core/registry";
import {CalendarCommonPopover} from "@web/views/calendar/calendar_common/calendar_common_popover";
import {CalendarCommonRenderer} from "@web/views/calendar/calendar_common/calendar_common_renderer";
import {CalendarController} from "@web/views/calendar/calendar_controller";
import {CalendarModel} from "@web/views/calendar/calendar_model";
import {CalendarRenderer} from "@web/views/calendar/calendar_renderer";
import {calendarView} from "@web/views/calendar/calendar_view";

const {DateTime} = luxon;

// The list's row colours (decoration-*) as calendar colour indexes.
export const STATUS_COLORS = {
    answered: 10, // green
    missed: 1, // red
    busy: 2, // orange
    failed: 0, // no colour (grey)
    unknown: 4, // light blue
};
const TIME_24H = {hour: "2-digit", minute: "2-digit", hour12: false};
// A call lasts a minute or two: shown at least this long, its label stays readable.
const MIN_SHOWN_MINUTES = 15;

let zonePromise = null;
/** The company's call time zone (the one that dates the calls), asked once. */
function callZone(orm) {
    zonePromise ||= orm.silent.call("res.users", "phone_call_timezone", []).catch(() => false);
    return zonePromise;
}

/** "Now" as a wall time of the call time zone, in the browser's zone (as the events are). */
function wallNow(zone) {
    const now = DateTime.now();
    if (!zone) {
        return now;
    }
    const there = now.setZone(zone);
    return there.isValid ? there.setZone("default", {keepLocalTime: true}) : now;
}

export class PhoneCallCalendarModel extends CalendarModel {
    async load(params = {}) {
        this.callZone = await callZone(this.orm);
        if (!this.meta.date && !params.context?.initial_date) {
            // Today is the call time zone's today, as the list's Today filter has it.
            this.meta.date = wallNow(this.callZone).startOf("day");
        }
        return super.load(params);
    }

    /** The days on screen by the call date: the day a call is listed under. */
    computeRangeDomain(data) {
        return [
            ["call_date", ">=", serializeDate(data.range.start)],
            ["call_date", "<=", serializeDate(data.range.end)],
        ];
    }

    normalizeRecord(rawRecord) {
        const record = super.normalizeRecord(rawRecord);
        const {call_date: date, call_time: time, status} = rawRecord;
        if (date) {
            // The wall time the list shows, whatever the browser's zone.
            const milliseconds = Math.round((time || 0) * 3600000);
            const start = deserializeDate(date).set({
                hour: Math.floor(milliseconds / 3600000),
                minute: Math.floor((milliseconds % 3600000) / 60000),
                second: Math.floor((milliseconds % 60000) / 1000),
            });
            const realStart = deserializeDateTime(rawRecord.call_start);
            const realEnd = rawRecord.call_end
                ? deserializeDateTime(rawRecord.call_end)
                : realStart;
            record.start = start;
            record.end = start.plus(realEnd.diff(realStart));
            record.isTimeHidden = this.meta.isTimeHidden || !start.hasSame(record.end, "day");
        }
        const statuses = Object.fromEntries(this.meta.fields.status.selection);
        record.statusLabel = statuses[status] || "";
        record.who = rawRecord.partner_id?.[1] || rawRecord.client_number || rawRecord.display_name;
        record.colorIndex = STATUS_COLORS[status] ?? 0;
        return record;
    }
}

export class PhoneCallCalendarController extends CalendarController {
    get today() {
        return wallNow(this.model.callZone).toFormat("d");
    }

    /** Today is the call time zone's today, the day the model opened on. */
    async setDate(move) {
        if (move !== "today") {
            return super.setDate(move);
        }
        const date = wallNow(this.model.callZone).startOf("day");
        if (date.ts === this.date.startOf("day").ts) {
            this.model.bus.trigger("SCROLL_TO_CURRENT_HOUR", false);
        }
        await this.model.load({date});
    }
}

export class PhoneCallCalendarPopover extends CalendarCommonPopover {
    computeDateTimeAndDuration() {
        super.computeDateTimeAndDuration();
        const {start, end} = this.props.record;
        if (this.time) {
            // With seconds, as the list's Call Time.
            this.time = `${start.toFormat("HH:mm:ss")} - ${end.toFormat("HH:mm:ss")}`;
        }
    }
}

export class PhoneCallCalendarCommonRenderer extends CalendarCommonRenderer {
    static eventTemplate = "phone_call_accounting.CalendarEvent";
    static components = {
        ...CalendarCommonRenderer.components,
        Popover: PhoneCallCalendarPopover,
    };

    setup() {
        super.setup();
        this.timeFormat = "HH:mm";
    }

    get options() {
        const zone = this.props.model.callZone;
        const week = this.props.model.scale === "week";
        return {
            ...super.options,
            // Calls have a time: no all-day row.
            allDaySlot: false,
            // Calls close together side by side, a "+n" for the rest of a crowded moment.
            eventMaxStack: week ? 2 : 4,
            viewClassNames: ["o_phone_call_calendar"],
            slotLabelFormat: TIME_24H,
            eventTimeFormat: TIME_24H,
            // The now line at the call time zone's hour, where its calls are.
            now: () => wallNow(zone).toISO(),
            scrollTime: this.scrollTime(zone),
        };
    }

    /** Today shows the last hours; another day its morning, when the calls begin. */
    scrollTime(zone) {
        const now = wallNow(zone);
        const hour = this.props.model.date.hasSame(now, "day") ? Math.max(now.hour - 2, 0) : 7;
        return `${String(hour).padStart(2, "0")}:00:00`;
    }

    eventClassNames(info) {
        // Every call is past: not greyed as past meetings are, its colour stays readable.
        return super.eventClassNames(info).filter((name) => name !== "o_past_event");
    }

    convertRecordToEvent(record) {
        const event = super.convertRecordToEvent(record);
        const shortest = record.start.plus({minutes: MIN_SHOWN_MINUTES});
        if (!event.allDay && record.end < shortest) {
            event.end = shortest.toISO();
        }
        return event;
    }
}

export class PhoneCallCalendarRenderer extends CalendarRenderer {
    static components = {
        ...CalendarRenderer.components,
        day: PhoneCallCalendarCommonRenderer,
        week: PhoneCallCalendarCommonRenderer,
        month: PhoneCallCalendarCommonRenderer,
    };
}

export const phoneCallCalendarView = {
    ...calendarView,
    Controller: PhoneCallCalendarController,
    Model: PhoneCallCalendarModel,
    Renderer: PhoneCallCalendarRenderer,
};

registry.category("views").add("phone_call_calendar", phoneCallCalendarView);
