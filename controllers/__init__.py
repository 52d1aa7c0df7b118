from . import recording, ringing, webhook
