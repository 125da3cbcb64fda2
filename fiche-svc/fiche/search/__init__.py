"""The public search: fiches of a commune, one fiche, communes with fiches (queries), over a thin HTTP API
(routes)."""
