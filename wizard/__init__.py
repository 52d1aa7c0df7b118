from . import phone_cdr_import
