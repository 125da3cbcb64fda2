"""Correction requests: the assmat pastes a map link centred on her place of practice (`domain.parse_map_link`,
`domain.check_proposal`), support accepts or refuses it (`commands`), the accepted point wins over later geocoding
of the same address. Read side in `queries`, HTTP in `routes`."""
