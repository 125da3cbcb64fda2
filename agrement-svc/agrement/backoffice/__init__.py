"""The PMI back office's side of agrement-svc: who of the staff sees what (scope by circonscription)."""
