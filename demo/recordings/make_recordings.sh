#!/usr/bin/env bash
# Speak the demo call recordings once (Debian's espeak-ng and sox); the files
# are shipped, so installing the demo needs neither tool.
#
# 8 kHz telephone audio, like Asterisk's MixMonitor writes it. The voice
# (en-us+f5, 160 words/minute) and the sentences are ones PocketSphinx's
# en-us model transcribes word for word at 8 kHz (see
# pbx/tests/test_transcribe.py): "price" is not among them, it is misheard.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

speak() { # speak TEXT OUT.wav: 8 kHz mono 16-bit, edge silence trimmed
    espeak-ng -v en-us+f5 -s 160 -w "$tmp/raw.wav" "$1"
    sox -D -R "$tmp/raw.wav" -b 16 -c 1 "$2" \
        silence 1 0.01 0.1% reverse silence 1 0.01 0.1% reverse rate 8000
}
seconds() { soxi -D "$1"; }
add() { awk -v a="$1" -v b="$2" 'BEGIN { print a + b }'; }

# Mono: one side of the line, 16-bit PCM.
mono() { # mono OUT.wav SENTENCE...: the sentences with 1 s between them
    local parts=() index=0
    for sentence in "${@:2}"; do
        speak "$sentence" "$tmp/part$index.wav"
        [ $index -gt 0 ] && parts+=("$tmp/gap.wav")
        parts+=("$tmp/part$index.wav")
        index=$((index + 1))
    done
    sox -D -R "${parts[@]}" "$1" pad 0.3 0.3
}
sox -D -R -n -r 8000 -b 16 -c 1 "$tmp/gap.wav" trim 0 1.0

mono cancel_order.wav "I want to cancel my order"
mono money_back.wav "I want my money back" "I want a refund"
mono call_back.wav "I will call you back tomorrow"

# Stereo, two-sided: the caller on the left, the employee on the right after
# a 1.2 s pause; G.711 u-law (8 bits a sample) keeps it small.
speak "I want to talk to a lawyer" "$tmp/caller.wav"
speak "I will ask my manager" "$tmp/agent.wav"
caller=$(seconds "$tmp/caller.wav")
sox -D -R "$tmp/caller.wav" "$tmp/left.wav" pad 0.3 10
answer=$(add "$caller" 1.5) # 0.3 s lead-in, then the 1.2 s pause
sox -D -R "$tmp/agent.wav" "$tmp/right.wav" pad "$answer" 10
total=$(add "$answer" "$(add "$(seconds "$tmp/agent.wav")" 0.4)")
sox -D -R -M "$tmp/left.wav" "$tmp/right.wav" -e u-law -b 8 lawyer_two_sided.wav trim 0 "$total"

ls -l ./*.wav
