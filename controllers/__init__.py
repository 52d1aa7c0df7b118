from . import common, recording, ringing, webhook
