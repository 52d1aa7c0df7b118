{
    "name": "Phone",
    "summary": "Call accounting: every PBX call logged, matched to clients, "
    "coloured by status, long calls reviewed",
    "version": "19.0.1.4.0",
    "category": "Productivity/Phone",
    "author": "phone_call_accounting developers",
    "website": "https://github.com/phone-call-accounting/phone_call_accounting",
    "license": "LGPL-3",
    "application": True,
    "depends": ["mail", "contacts", "phone_validation"],
    "external_dependencies": {
        "python": [
            "phonenumbers",
            "numpy",
            "soundfile",
            "soxr",
            "webrtcvad-wheels",
            "snowballstemmer",
        ]
    },
    "data": [
        "security/phone_security.xml",
        "security/ir.model.access.csv",
        "data/mail_activity_type_data.xml",
        "data/phone_client_type_data.xml",
        "data/phone_call_picture_data.xml",
        "data/ir_cron_data.xml",
        "data/phone_live_data.xml",
        "views/phone_call_views.xml",
        "views/phone_call_queue_views.xml",
        "views/phone_call_calendar_views.xml",
        "views/phone_call_dial_views.xml",
        "wizard/phone_cdr_import_views.xml",
        "wizard/phone_pbx_token_views.xml",
        "views/phone_pbx_views.xml",
        "report/phone_call_report_views.xml",
        "report/phone_call_report_queue_views.xml",
        "views/phone_queue_views.xml",
        "views/phone_client_type_views.xml",
        "views/phone_keyword_views.xml",
        "views/phone_tariff_views.xml",
        "views/phone_call_picture_views.xml",
        "views/res_partner_views.xml",
        "views/mail_activity_views.xml",
        "views/res_users_views.xml",
        "views/res_config_settings_views.xml",
        "views/phone_wallboard_views.xml",
        "views/phone_menus.xml",
    ],
    "demo": [
        "demo/phone_call_demo.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "phone_call_accounting/static/src/fields/**/*",
            "phone_call_accounting/static/src/ringing/**/*",
            "phone_call_accounting/static/src/dial/**/*",
            "phone_call_accounting/static/src/callbacks/**/*",
            "phone_call_accounting/static/src/calendar/**/*",
            "phone_call_accounting/static/src/wallboard/**/*",
        ],
        # Odoo loads its graph view lazily (web.assets_backend_lazy): a patch of it
        # must be in the same bundle, or every page logs an unmet dependency.
        "web.assets_backend_lazy": [
            "phone_call_accounting/static/src/graph/**/*",
        ],
        "web.assets_tests": [
            "phone_call_accounting/static/tests/tours/**/*",
        ],
    },
}
