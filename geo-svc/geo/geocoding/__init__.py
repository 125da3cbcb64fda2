"""Geocoding: one interface (`domain.Geocoder`) over three adapters (`geo.adapters.geocoders`): the Base Adresse
Nationale's HTTP API, the address table loaded from a BAN CSV extract, and the offline communes reference. The
rules on a result (weak or not, the public pin) are pure functions in `domain`."""
