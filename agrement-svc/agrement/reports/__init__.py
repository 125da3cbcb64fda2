"""Reports of a change of situation: typed, checked (R421-41 for moving), routed to the circonscription, a workflow."""
