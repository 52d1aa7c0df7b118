import { registry } from "@web/core/registry";

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
                        audio.addEventListener("loadedmetadata", resolve, { once: true });
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
    ],
});
