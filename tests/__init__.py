from . import (
    test_analysis,
    test_cdr_database,
    test_cdr_import,
    test_configuration,
    test_demo,
    test_ingest,
    test_long_call,
    test_partner_matching,
    test_recordings,
    test_security,
    test_tour,
    test_webhook,
)
