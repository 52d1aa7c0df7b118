from . import test_ingest
