from . import phone_client_type
from . import phone_call_picture
from . import phone_call
from . import res_company
from . import res_config_settings
from . import res_partner
from . import res_users
