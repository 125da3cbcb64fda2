"""The lists by commune for mairies (CASF L421-8), in CSV and PDF, headed with the mairie's contact."""
