/**
 * A manager reads and copies a PBX's secret token, then makes a new one and
 * sees it once in a dialog with a copy button. Started by tests/test_pbx_form.py.
 */
import {registry} from "@web/core/registry";

registry.category("web_tour.tours").add("phone_pbx_token_tour", {
    steps: () => [
        {
            content: "The token is masked at first",
            trigger: '.o_field_widget[name="token"] input[type="password"]',
        },
        {
            content: "It has a copy button",
            trigger: '.o_field_widget[name="token"] .o_phone_secret_copy',
        },
        {
            content: "Show it",
            trigger: '.o_field_widget[name="token"] .o_phone_secret_reveal',
            run: "click",
        },
        {
            content: "The token is readable",
            trigger: '.o_field_widget[name="token"] input[type="text"]',
            run() {
                const value = this.anchor.value;
                if (value !== "tour-old-token-0123456789") {
                    throw new Error(`the revealed token reads ${JSON.stringify(value)}`);
                }
            },
        },
        {
            content: "Make a new token",
            trigger: 'button[name="action_regenerate_token"]',
            run: "click",
        },
        {
            content: "Confirm",
            trigger: ".modal .modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "The new token is shown once, with a copy button",
            trigger:
                '.modal .o_field_widget[name="token"] .o_clipboard_button, .modal .o_field_widget[name="token"] button',
        },
        {
            content: "It is a new token",
            trigger: '.modal .o_field_widget[name="token"]',
            run() {
                const text = this.anchor.textContent.trim();
                if (!text || text.includes("tour-old-token")) {
                    throw new Error(`the dialog shows ${JSON.stringify(text)}`);
                }
            },
        },
        {
            content: "Close the dialog",
            trigger: '.modal .modal-footer button:contains("Done")',
            run: "click",
        },
        {
            content: "Back on the PBX form, which holds the new token",
            trigger: '.o_form_view .o_field_widget[name="token"] input',
            run() {
                if (!this.anchor.value || this.anchor.value.includes("tour-old-token")) {
                    throw new Error(`the form holds ${JSON.stringify(this.anchor.value)}`);
                }
            },
        },
    ],
});
