"""What a mail says and how it is built: no Flask, no database, no network."""
