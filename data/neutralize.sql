-- A copied database must not receive or pull a production PBX's calls.
UPDATE phone_pbx
   SET active = false,
       token = NULL,
       ami_secret = NULL,
       cdr_db_password = NULL,
       recording_source = 'none',
       recording_password = NULL;
