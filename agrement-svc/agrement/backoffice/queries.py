"""The back office's lists over agréments: the oppositions to publication (scoped by circonscription)."""
from __future__ import annotations

import sqlalchemy as sa

from agrement.adapters.orm import agrements

LIST_LIMIT = 1000


def oppositions(session, circonscriptions: tuple[str, ...] | None) -> list[dict]:
    """Agréments whose holder opposed publication (off the site) or asked for no contact details on it."""
    query = (sa.select(agrements.c.pmi_number, agrements.c.first_name, agrements.c.last_name,
                       agrements.c.commune_insee, agrements.c.circonscription, agrements.c.status,
                       agrements.c.publication_opposed, agrements.c.publication_contact_hidden)
             .where(sa.or_(agrements.c.publication_opposed.is_(True),
                           agrements.c.publication_contact_hidden.is_(True)))
             .order_by(agrements.c.last_name, agrements.c.first_name).limit(LIST_LIMIT))
    if circonscriptions is not None:
        query = query.where(agrements.c.circonscription.in_(circonscriptions or ("",)))
    return [{**row, "choice": "opposed" if row["publication_opposed"] else "no_contact"}
            for row in session.execute(query).mappings()]
