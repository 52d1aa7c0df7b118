"""Conversation analysis of call recordings: voice activity and silences
(:mod:`.audio`), speech to text (:mod:`.transcribe`) and keyword matching
(:mod:`.keywords`).

Run by the addon's analysis cron; the only users of numpy, soundfile,
webrtcvad, pocketsphinx and snowballstemmer.
"""
