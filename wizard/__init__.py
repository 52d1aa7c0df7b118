from . import phone_cdr_import, phone_pbx_token
