from . import phone_call_report
