from . import recording, webhook
