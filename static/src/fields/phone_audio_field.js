import {_t} from "@web/core/l10n/translation";
import {registry} from "@web/core/registry";
import {standardFieldProps} from "@web/views/fields/standard_field_props";
import {Component, onWillUnmount, useExternalListener, useRef, useState} from "@odoo/owl";

/**
 * Plays a call's recording from its access-checked URL: a full player on the
 * form, a play/pause button in lists (one recording plays at a time).
 */
export class PhoneAudioField extends Component {
    static template = "phone_call_accounting.PhoneAudioField";
    static props = {...standardFieldProps, compact: {type: Boolean, optional: true}};

    setup() {
        this.state = useState({playing: false});
        this.player = useRef("player");
        onWillUnmount(() => this.audio?.pause());
        // A keyword hit's time (Analysis tab) plays the recording from that moment.
        useExternalListener(document, "click", (ev) => this.playHit(ev));
    }

    playHit(ev) {
        const link = ev.target.closest?.(".o_phone_hit_time[data-seconds]");
        const audio = this.player.el;
        if (!link || !audio || link.closest(".o_form_view") !== audio.closest(".o_form_view")) {
            return;
        }
        ev.preventDefault();
        PhoneAudioField.current?.pause();
        PhoneAudioField.current = audio;
        audio.currentTime = Number(link.dataset.seconds);
        // Browsers may refuse to play without a user's gesture; the position is kept.
        audio.play().catch(() => {});
    }

    get url() {
        return this.props.record.data[this.props.name] || "";
    }

    get downloadUrl() {
        return `${this.url}?download=1`;
    }

    toggle(ev) {
        ev.stopPropagation();
        if (!this.audio) {
            this.audio = new Audio(this.url);
            this.audio.addEventListener("ended", () => (this.state.playing = false));
            this.audio.addEventListener("pause", () => (this.state.playing = false));
        }
        if (this.state.playing) {
            this.audio.pause();
        } else {
            PhoneAudioField.current?.pause();
            PhoneAudioField.current = this.audio;
            this.audio.play();
            this.state.playing = true;
        }
    }
}

export const phoneAudioField = {
    component: PhoneAudioField,
    displayName: _t("Call recording player"),
    supportedTypes: ["char"],
    extractProps: ({options}) => ({compact: Boolean(options.compact)}),
};

registry.category("fields").add("phone_audio", phoneAudioField);
