"""Test doubles and test data makers, for pbx/tests, the Odoo tests and bench/.

Never imported by production code, and free of pytest (the Odoo tests run
under unittest): a fake Asterisk manager (:mod:`.fake_ami`), a fake Odoo
webhook (:mod:`.fake_odoo`), the shared AMI captures and a listener config
to replay them (:mod:`.captures`), synthetic AMI traces (:mod:`.ami_trace`)
and spoken audio (:mod:`.speech`).
"""
