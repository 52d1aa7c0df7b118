"""Builder for synthetic AMI traces, written from the AMI v2 event reference.

The shared captures lack PJSIP names, Timestamp headers, recordings and
failures; traces built here cover those. Each event carries the channel
snapshot Asterisk 12+ puts in it (Channel, Uniqueid, Linkedid, CallerIDNum,
Exten, with a ``Dest`` copy for dials) and, like ``timestampevents=yes``,
a ``Timestamp`` header.
"""

from ..asterisk.ami import parse_bytes

START = 1767258000.0  # 2026-01-01 09:00:00 UTC


class Trace:
    def __init__(self, start=START, timestamps=True):
        self.start = start
        self.now = start
        self.timestamps = timestamps
        self._lines = []
        self._channels = {}
        self._count = 0

    def at(self, seconds):
        self.now = self.start + seconds
        return self

    def channel(self, key, name, cid="<unknown>", exten="s", linkedid=None, state="Down"):
        """Newchannel; ``linkedid`` names the key of the channel it is linked to."""
        self._count += 1
        uniqueid = f"{self.start:.0f}.{self._count}"
        self._channels[key] = {
            "Channel": name,
            "ChannelStateDesc": state,
            "CallerIDNum": cid,
            "Exten": exten,
            "Context": "from-internal",
            "Uniqueid": uniqueid,
            "Linkedid": self._channels[linkedid]["Uniqueid"] if linkedid else uniqueid,
        }
        return self.event("Newchannel", key)

    def update(self, key, **snapshot):
        """Change what later snapshots of a channel say (caller ID, Linkedid)."""
        self._channels[key].update(snapshot)
        return self

    def linkedid_of(self, key):
        return self._channels[key]["Linkedid"]

    def event(self, name, key=None, dest=None, **headers):
        lines = [f"Event: {name}", "Privilege: call,all"]
        if self.timestamps:
            lines.append(f"Timestamp: {self.now:.6f}")
        if key:
            lines += [f"{k}: {v}" for k, v in self._channels[key].items()]
        if dest:
            lines += [f"Dest{k}: {v}" for k, v in self._channels[dest].items()]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self._lines.append("\r\n".join(lines) + "\r\n\r\n")
        return self

    def state(self, key, state):
        self._channels[key]["ChannelStateDesc"] = state
        return self.event("Newstate", key)

    def dial(self, source, dest, dial_string):
        return self.event("DialBegin", source, dest, DialString=dial_string)

    def dial_end(self, source, dest, status):
        return self.event("DialEnd", source, dest, DialStatus=status)

    def bridge(self, bridge_id, *keys, bridge_type="basic"):
        for key in keys:
            self.event("BridgeEnter", key, BridgeUniqueid=bridge_id, BridgeType=bridge_type)
        return self

    def unbridge(self, bridge_id, *keys):
        for key in keys:
            self.event("BridgeLeave", key, BridgeUniqueid=bridge_id, BridgeType="basic")
        return self

    def hangup(self, key, cause=16):
        return self.event("Hangup", key, Cause=cause, **{"Cause-txt": "whatever"})

    def wire(self):
        return "".join(self._lines).encode()

    def messages(self):
        return parse_bytes(self.wire())
