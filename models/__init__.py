# The roll-up mixin first: phone_call_rollup and the report inherit it.
from . import phone_rollup_mixin  # isort: skip
from . import (
    mail_activity,
    phone_call,
    phone_call_analysis,
    phone_call_daily,
    phone_call_followup,
    phone_call_ingest,
    phone_call_picture,
    phone_call_recording,
    phone_call_rollup,
    phone_client_type,
    phone_keyword,
    phone_pbx,
    phone_pbx_dial,
    phone_pbx_ringing,
    phone_tariff,
    res_company,
    res_config_settings,
    res_partner,
    res_users,
)
