import {registry} from "@web/core/registry";

registry.category("web_tour.tours").add("phone_call_accounting_recording_tour", {
    steps: () => [
        {
            content: "Open the call's Recording tab",
            trigger: '.o_form_view .o_notebook a:contains("Recording")',
            run: "click",
        },
        {
            content: "The browser loads the recording and knows its length",
            trigger: ".o_phone_audio audio.o_phone_audio_player",
            run: async function () {
                const audio = document.querySelector("audio.o_phone_audio_player");
                if (!(audio.readyState >= 1)) {
                    await new Promise((resolve, reject) => {
                        audio.addEventListener("loadedmetadata", resolve, {once: true});
                        audio.addEventListener("error", () => reject(new Error("audio error")), {
                            once: true,
                        });
                        audio.load();
                    });
                }
                if (!(audio.duration > 0)) {
                    throw new Error(`recording has no duration: ${audio.duration}`);
                }
                document.body.classList.add("o_phone_audio_ok");
            },
        },
        {
            content: "Playable",
            trigger: "body.o_phone_audio_ok",
        },
        {
            content: "A download button is offered",
            trigger: ".o_phone_audio a.o_phone_audio_download",
        },
        {
            content: "Open the analysis",
            trigger: '.o_form_view .o_notebook a:contains("Analysis")',
            run: "click",
        },
        {
            content: "The figures are on the form",
            trigger: '.o_form_view div[name="talk_seconds_measured"]:not(:contains("0.00"))',
        },
        {
            content: "The spoken keyword flags the call",
            trigger: '.o_form_view div[name="keyword_ids"] .o_tag:contains("lawyer")',
        },
        {
            content: "The transcript is shown",
            trigger: '.o_form_view div[name="transcript"]:contains("lawyer")',
        },
        {
            content: "The keyword's time plays the recording from there",
            trigger: ".o_form_view .o_phone_keyword_hits a.o_phone_hit_time",
            run: async function () {
                const link = document.querySelector(".o_phone_keyword_hits a.o_phone_hit_time");
                const audio = document.querySelector(".o_form_view audio.o_phone_audio_player");
                if (!audio) {
                    throw new Error("no player beside the keyword hits");
                }
                if (!(audio.readyState >= 1)) {
                    await new Promise((resolve) =>
                        audio.addEventListener("loadedmetadata", resolve, {once: true})
                    );
                }
                link.click();
                const wanted = Number(link.dataset.seconds);
                if (!(wanted > 0) || Math.abs(audio.currentTime - wanted) > 0.5) {
                    throw new Error(`player at ${audio.currentTime} s, hit at ${wanted} s`);
                }
                document.body.classList.add("o_phone_hit_played");
            },
        },
        {
            content: "The player moved to the keyword",
            trigger: "body.o_phone_hit_played",
        },
    ],
});
