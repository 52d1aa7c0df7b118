from . import test_ingest
from . import test_partner_matching
from . import test_long_call
from . import test_configuration
from . import test_security
from . import test_demo
from . import test_tour
