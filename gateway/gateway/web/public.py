"""The public site: home, search of fiches by commune or postcode, a fiche."""
from __future__ import annotations

import math

from flask import Blueprint, render_template, request, url_for

from gateway.bootstrap import current
from gateway.clients import DownstreamError
from gateway.errors import error_page
from gateway.presentation import fiche_view
from gateway.web.forms import BadInput, parse_page

bp = Blueprint("public", __name__)

PER_PAGE = 20


@bp.get("/")
def home():
    return render_template("home.html")


@bp.get("/recherche")
def search():
    commune = request.args.get("commune", "").strip().upper()
    text = request.args.get("q", "").strip()
    context = {"q": text, "commune": commune, "result": None, "error": None}
    try:
        page = parse_page(request.args.get("page")) or 1
    except BadInput as error:  # "²", "-1", 10^20: said on the page, which keeps the search typed
        return render_template("search.html", **{**context, "error": error.message}), 400
    if not commune and "q" not in request.args:
        return render_template("search.html", **context)
    try:
        # fiche-svc judges the criteria (INSEE code, length, postcode): its refusal is shown under the field.
        result = current().clients.fiche.search(commune=commune or None, q=None if commune else text, page=page,
                                                per_page=PER_PAGE)
    except DownstreamError as error:
        if error.status != 400:
            raise
        return render_template("search.html", **{**context, "error": error.message}), 400
    context["result"] = result
    context.update(pages=_pages(result, page, commune, text),
                   fiches=[fiche_view(raw) for raw in result.get("fiches") or []])
    return render_template("search.html", **context)


def _pages(result: dict, page: int, commune: str, text: str) -> dict:
    per_page = int(result.get("per_page") or PER_PAGE)
    count = max(math.ceil(int(result.get("total") or 0) / per_page), 1)
    criteria = {"commune": commune} if commune else {"q": text}

    def link(number: int) -> str | None:
        return url_for("public.search", **criteria, page=number) if 1 <= number <= count else None

    return {"current": page, "count": count, "previous": link(page - 1), "next": link(page + 1)}


@bp.get("/assistant-maternel/<fiche_id>")
def fiche(fiche_id: str):
    try:
        record = current().clients.fiche.get(fiche_id)
    except DownstreamError as error:
        if error.status != 404:
            raise
        return error_page(404, title="Fiche introuvable",
                          message="Cette fiche n'existe pas ou n'est plus publiée : l'assistant·e maternel·le a "
                                  "peut-être cessé son activité ou choisi de ne plus apparaître sur le site.")
    return render_template("fiche.html", fiche=fiche_view(record))
