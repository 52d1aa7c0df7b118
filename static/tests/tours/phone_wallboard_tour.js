/**
 * Phone → Wallboard, live: a caller joins the support queue on the fake AMI
 * server and shows within 2 s; an agent answers and the caller leaves the
 * queue, the call showing as talking. Started by tests/test_wallboard_tour.py,
 * whose listener posts the AMI events to Odoo's live-event route; the test's
 * control server (its address in a system parameter) plays the PBX's part.
 */
import {rpc} from "@web/core/network/rpc";
import {registry} from "@web/core/registry";

const QUEUE = ".o_phone_wallboard_queue[data-queue=support]";
const LIMIT_MS = 2000;
let sent = 0;

/** Ask the test's fake PBX to play ``what`` (join, answer) now. */
async function play(what) {
    const base = await rpc("/web/dataset/call_kw/ir.config_parameter/get_param", {
        model: "ir.config_parameter",
        method: "get_param",
        args: ["phone_call_accounting.tour_ami_control"],
        kwargs: {},
    });
    const response = await fetch(`${base}/${what}`, {method: "POST"});
    if (!response.ok) {
        throw new Error(`the fake PBX did not play ${what}: ${response.status}`);
    }
    sent = Date.now();
}

function inTime(what) {
    const elapsed = Date.now() - sent;
    if (elapsed > LIMIT_MS) {
        throw new Error(`${what} took ${elapsed} ms on the wallboard (at most ${LIMIT_MS})`);
    }
}

registry.category("web_tour.tours").add("phone_wallboard_tour", {
    steps: () => [
        {
            content: "The wallboard, before the listener connects",
            trigger: ".o_phone_wallboard_title",
            run: () => play("connect"),
        },
        {
            content: "The queue as the PBX said on connect: nobody waits, one agent free",
            trigger: `${QUEUE} .o_phone_wallboard_available .o_phone_wallboard_value:contains(1)`,
        },
        {
            content: "Nobody waits",
            trigger: `${QUEUE}:not(:has(.o_phone_wallboard_caller)) .o_phone_wallboard_waiting:contains(0)`,
            run: () => play("join"),
        },
        {
            content: "The caller shows, waiting",
            trigger: `${QUEUE} .o_phone_wallboard_caller:contains(Bakkerij Korst)`,
            run: () => inTime("The caller joining"),
        },
        {
            content: "One waits, the wait ticks",
            trigger: `${QUEUE} .o_phone_wallboard_waiting:contains(1)`,
            run: () => play("answer"),
        },
        {
            content: "Answered: the caller leaves the queue",
            trigger: `${QUEUE}:not(:has(.o_phone_wallboard_caller)) .o_phone_wallboard_waiting:contains(0)`,
            run: () => inTime("The caller leaving"),
        },
        {
            content: "The agent talks with the caller",
            trigger:
                ".o_phone_wallboard_call_talking:has(.o_phone_wallboard_call_agent:contains(Mitchell Admin)) .o_phone_wallboard_call_other:contains(Bakkerij Korst)",
        },
        {
            content: "... and is on a call",
            trigger: `${QUEUE} .o_phone_wallboard_on_call .o_phone_wallboard_value:contains(1)`,
        },
    ],
});
