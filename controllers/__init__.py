from . import common, live, recording, ringing, webhook
