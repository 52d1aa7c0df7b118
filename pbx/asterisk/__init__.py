"""Asterisk itself: AMI messages and the pyst2 manager, channel names, the
call assembler, CDR files and databases, and click-to-dial ``Originate``.

Used by the listener (:mod:`pbx.listener`), ``replay`` and the addon alike;
nothing here posts to Odoo.
"""
