from . import (
    test_configuration,
    test_demo,
    test_ingest,
    test_long_call,
    test_partner_matching,
    test_security,
    test_tour,
)
