"""Who may activate: the projection of agrément holders, fed by agrement-svc's events."""
