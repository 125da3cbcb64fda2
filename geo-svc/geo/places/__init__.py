"""Where each place of practice is: locating rules (`domain`), the consumer of agrément events (`consumers`), one
place read back (`queries`, `routes`: `GET /api/places/<place_id>`)."""
