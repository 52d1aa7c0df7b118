from . import (
    mail_activity,
    phone_call,
    phone_call_picture,
    phone_client_type,
    phone_keyword,
    phone_pbx,
    phone_tariff,
    res_company,
    res_config_settings,
    res_partner,
    res_users,
)
