"""MAM and RPE accounts: identity's projection of the structures extract (agrement-svc's structure events)."""
