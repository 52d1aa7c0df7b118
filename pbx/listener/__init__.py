"""The AMI listener: the process an operator runs beside Odoo (like OCA
queue_job's runner), and its command line.

``python -m pbx listen`` (:mod:`.cli`) reads :mod:`.config`, then
:mod:`.service` follows Asterisk, keeps finished calls in the :mod:`.spool`
and posts them with :mod:`.delivery`; ringing phones go out through
:mod:`.ringing`. ``python -m pbx replay`` prints the calls of a capture.
"""
