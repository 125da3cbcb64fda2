"""Read side: the queries behind the public search API (plain SQL, no domain model), over the projection's tables.

Every search is scoped to one commune and walks ix_fiches_search (publishable, commune_insee, sort_name, fiche_id,
validity_start, validity_end) in order, from the index alone: cost grows with the commune's fiches and the page
asked, never with the number of fiches in France.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiche.adapters.orm import communes, fiches
from fiche.projection.domain.publication import public_fiche
from fiche.projection.queries import RECORD, visible
from services.text import commune_key
from services.validators import is_digits

CANDIDATES_MAX = 20
NAME_MATCHES_MAX = 500


def get_public_fiche(session: Session, fiche_id: str, on: dt.date) -> dict | None:
    row = session.execute(RECORD.where(fiches.c.fiche_id == fiche_id, visible(on))).mappings().first()
    return public_fiche(row) if row else None


def _communes(session: Session, on: dt.date, codes: sa.Select, *, with_empty: bool = False, only: str | None = None,
              limit: int = CANDIDATES_MAX) -> list[dict]:
    """The communes whose codes `codes` selects (and that are `only`, when given), with their number of public
    fiches, most fiches first. `codes` is evaluated first (from the name or the postcode index), so that fiches are
    only counted for those communes."""
    count = sa.func.count(fiches.c.fiche_id)
    on_clause = sa.and_(fiches.c.commune_insee == communes.c.insee_code, visible(on))
    joined = communes.outerjoin(fiches, on_clause) if with_empty else communes.join(fiches, on_clause)
    query = (sa.select(communes.c.insee_code, communes.c.name, communes.c.postcodes, count.label("fiches"))
             .select_from(joined).where(communes.c.insee_code.in_(codes),
                                        *([communes.c.insee_code == only] if only else []))
             .group_by(communes.c.insee_code, communes.c.name, communes.c.postcodes)
             .order_by(count.desc(), communes.c.name).limit(limit))
    return [{"insee": row.insee_code, "name": row.name, "postcodes": row.postcodes.split(), "fiches": row.fiches}
            for row in session.execute(query)]


def _named(key: str, *, prefix: bool) -> sa.Select:
    if not prefix:
        return sa.select(communes.c.insee_code).where(communes.c.search_name == key)
    # A byte-wise range rather than LIKE: both SQLite and PostgreSQL (column in the "C" collation) serve it from
    # the btree index; folded names hold no character above U+10FFFF. Two letters can match thousands of
    # communes: fiches are counted for the first NAME_MATCHES_MAX only.
    return (sa.select(communes.c.insee_code)
            .where(communes.c.search_name >= key, communes.c.search_name < key + "\U0010ffff")
            .order_by(communes.c.search_name).limit(NAME_MATCHES_MAX))


def _with_postcode(on: dt.date, condition) -> sa.Select:
    return sa.select(fiches.c.commune_insee).where(visible(on), condition).distinct()


def communes_with_fiches(session: Session, query: str, on: dt.date, limit: int) -> list[dict]:
    """Autocomplete: communes with public fiches whose name or postcode starts with `query`, most fiches first."""
    if is_digits(query):
        codes = _with_postcode(on, fiches.c.postcode.between(query.ljust(5, "0"), query.ljust(5, "9")))
    else:
        codes = _named(commune_key(query), prefix=True)
    return _communes(session, on, codes, limit=limit)


def resolve_communes(session: Session, query: str, on: dt.date, only: str | None = None) -> list[dict]:
    """The communes a parent may mean by `query`, a postcode or a name (narrowed to the commune `only`). A name that
    is exactly a commune's wins over longer names starting with it ("Chartres" is not "Chartres-de-Bretagne"), even
    without fiches; otherwise only communes with public fiches are offered."""
    if is_digits(query):
        return _communes(session, on, _with_postcode(on, fiches.c.postcode == query), only=only)
    key = commune_key(query)
    return (_communes(session, on, _named(key, prefix=False), with_empty=True, only=only)
            or _communes(session, on, _named(key, prefix=True), only=only))


def commune(session: Session, insee_code: str, on: dt.date) -> dict:
    """A commune asked by its code: known here or not, its fiches can be listed (a commune without any has none)."""
    name = session.execute(sa.select(communes.c.name).where(communes.c.insee_code == insee_code)).scalar()
    total = session.execute(sa.select(sa.func.count()).select_from(fiches)
                            .where(visible(on), fiches.c.commune_insee == insee_code)).scalar_one()
    return {"insee": insee_code, "name": name, "fiches": total}


def fiches_in_commune(session: Session, insee_code: str, on: dt.date, page: int, per_page: int) -> list[dict]:
    # The page's ids come from the index alone (it holds the validity dates too); only those rows are then read and
    # joined, instead of reading and joining every row OFFSET skips.
    page_ids = (sa.select(fiches.c.fiche_id, fiches.c.sort_name)
                .where(visible(on), fiches.c.commune_insee == insee_code)
                .order_by(fiches.c.sort_name, fiches.c.fiche_id).limit(per_page).offset((page - 1) * per_page)
                .subquery())
    rows = session.execute(RECORD.join(page_ids, page_ids.c.fiche_id == fiches.c.fiche_id)
                           .order_by(page_ids.c.sort_name, page_ids.c.fiche_id)).mappings()
    return [public_fiche(row) for row in rows]


def search(session: Session, *, insee_code: str | None, query: str | None, on: dt.date, page: int,
           per_page: int) -> dict:
    """Fiches of the one commune meant by `insee_code` and/or `query` (both given: both must agree); when the
    query could mean several communes, the candidates to choose from and no fiche."""
    if query:
        matches = resolve_communes(session, query, on, only=insee_code)
    else:
        matches = [commune(session, insee_code, on)]
    result = {"total": 0, "page": page, "per_page": per_page, "commune": None, "candidates": [], "fiches": []}
    if len(matches) != 1:
        result["candidates"] = matches
        return result
    chosen = matches[0]
    result.update(total=chosen["fiches"], commune={"insee": chosen["insee"], "name": chosen["name"]},
                  fiches=fiches_in_commune(session, chosen["insee"], on, page, per_page) if chosen["fiches"] else [])
    return result
