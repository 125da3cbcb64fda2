"""The assmat's own agrément, read only: what she may see of it (`queries`) and `GET /api/agrements/me` (`routes`)."""
