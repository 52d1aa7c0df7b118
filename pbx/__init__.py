"""Framework-free PBX logic: number normalisation, AMI, CDR, call assembly.

Nothing here imports odoo; the addon's models are thin glue around it.
"""
