"""The assmat's Contrats and Vos propres enfants tabs of the espace pro: declare a child's arrival, a change, a
departure (R421-39), an exceptional over-capacity (L421-4 III, D421-17), see her week as the capacity engine sees
it, and list her own children. Every rule is agrement-svc's: the pages catch only what is plainly malformed and
show the service's refusals next to the fields they concern."""
from __future__ import annotations

import re
from datetime import date, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from gateway import browser
from gateway.bootstrap import current
from gateway.clients import DownstreamError, _segment
from gateway.web.forms import Form

bp = Blueprint("contracts", __name__, url_prefix="/espace-pro")

WEEKDAYS = ("Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi", "Samedi", "Dimanche")
SCHEDULE_FIELDS = tuple(f"{part}_{day}" for day in range(7) for part in ("start", "end"))
REPRESENTATIVE_FIELDS = tuple(f"rep{n}_{part}" for n in (1, 2) for part in ("name", "phone", "email"))
ARRIVAL_FIELDS = ("child_first_name", "child_birth_date", "start_date", *SCHEDULE_FIELDS, *REPRESENTATIVE_FIELDS,
                  "schedule", "representatives", "confirm_over_capacity")
CHANGE_FIELDS = ("effective_date", *SCHEDULE_FIELDS, "schedule", "confirm_over_capacity")
DEPARTURE_FIELDS = ("end_date",)
CONTACTS_FIELDS = ("contacts_date", *REPRESENTATIVE_FIELDS, "representatives")
OVER_CAPACITY_FIELDS = ("reason", "start_date", "end_date")
CHILD_FIELDS = ("first_name", "birth_date")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
TIME = re.compile(r"[0-9]{2}:[0-9]{2}")
KIND_LABELS = {"arrival": "Arrivée", "change": "Changement", "departure": "Départ"}


def _api(method: str, path: str, **kwargs) -> dict:
    return current().clients.agrement.downstream.json(method, path, token=browser.access_token(), **kwargs)


def _assmat_only():
    if (browser.current_account() or {}).get("role") != "assmat":
        abort(403)


def _check_date(form: Form, name: str, label: str) -> None:
    if not form[name]:
        form.error(name, f"Indiquez {label}.")
    elif not ISO_DATE.fullmatch(form[name]):
        form.error(name, f"{label[0].upper()}{label[1:]} doit être une date (JJ/MM/AAAA).")


def _schedule(form: Form) -> list[dict]:
    """One slot a day at most on the form (the API takes several): both hours or neither."""
    slots = []
    for day in range(7):
        start, end = form[f"start_{day}"], form[f"end_{day}"]
        if not start and not end:
            continue
        if not (TIME.fullmatch(start) and TIME.fullmatch(end)):
            form.error("schedule", f"{WEEKDAYS[day]} : indiquez l'heure d'arrivée et l'heure de départ (HH:MM).")
        elif end <= start:
            form.error("schedule", f"{WEEKDAYS[day]} : l'heure de départ doit suivre l'heure d'arrivée.")
        else:
            slots.append({"weekday": day, "start": start, "end": end})
    if not slots:
        form.error("schedule", "Indiquez au moins un jour d'accueil avec ses horaires.")
    return slots


def _representatives(form: Form) -> list[dict]:
    found = []
    for n in (1, 2):
        name, phone, email = (form[f"rep{n}_{part}"] for part in ("name", "phone", "email"))
        if name or phone or email:
            found.append({"name": name, "phone": phone, "email": email})
    if not found:
        form.error("representatives", "Indiquez au moins un représentant légal (nom et téléphone ou e-mail).")
    return found


def _show_refusal(form: Form, error: DownstreamError, check: tuple[str, dict] | None = None) -> list:
    """A service refusal next to its fields. On the capacity warning (409 `over_capacity`), `check` (the path and
    body of the same declaration's dry run) asks agrement-svc what breaks, to list it beside the confirmation."""
    if error.code == "over_capacity":
        form.error("confirm_over_capacity", error.message)
        if check is None:
            return []
        verdict = _api("POST", check[0], json=check[1])
        return list(verdict.get("exceedances") or []) or [{"label": "", "messages": [error.message]}]
    for name, message in error.fields.items():
        form.error(name if name in form.fields else form.fields[0], message)
    if not error.fields:
        form.error(form.fields[0], error.message)
    return []


# --- Contrats -------------------------------------------------------------------------------------------------

@bp.get("/contrats")
@browser.login_required
def index():
    _assmat_only()
    contracts = _api("GET", "/api/contracts")["contracts"]
    over_capacity = _api("GET", "/api/over-capacity")["declarations"]
    return render_template("contracts/index.html", contracts=contracts, over_capacity=over_capacity,
                           weekdays=WEEKDAYS, kinds=KIND_LABELS)


@bp.route("/contrats/nouveau", methods=["GET", "POST"])
@browser.login_required
def index_arrival():
    _assmat_only()
    form = Form(ARRIVAL_FIELDS, request.form if request.method == "POST" else {})
    exceedances = []
    if request.method == "POST":
        form.values["confirm_over_capacity"] = ""   # asked again on every warning
        first_name = form["child_first_name"]
        if not first_name:
            form.error("child_first_name", "Indiquez le prénom de l'enfant.")
        _check_date(form, "child_birth_date", "la date de naissance")
        _check_date(form, "start_date", "la date d'arrivée")
        schedule, representatives = _schedule(form), _representatives(form)
        if form.ok:
            body = {"child_first_name": first_name, "child_birth_date": form["child_birth_date"],
                    "start_date": form["start_date"], "schedule": schedule, "representatives": representatives}
            try:
                answer = _api("POST", "/api/contracts", json={
                    **body, "confirm_over_capacity": request.form.get("confirm_over_capacity") == "oui"})
            except DownstreamError as error:
                exceedances = _show_refusal(form, error, ("/api/contracts/check", body))
                if exceedances:
                    form.values["confirm_over_capacity"] = "proposed"
            else:
                flash(_declared_message("L'arrivée", answer), "success")
                return redirect(url_for("contracts.index_detail", contract_id=answer["contract_id"]), 303)
    status = 200 if request.method == "GET" else (409 if exceedances else 400)
    return render_template("contracts/arrival.html", form=form, weekdays=WEEKDAYS, exceedances=exceedances), status


def _declared_message(what: str, answer: dict) -> str:
    message = f"{what} est déclarée à la PMI."
    if answer.get("late"):
        message += (" Elle arrive après le délai de 8 jours (article R421-39 du CASF) : la PMI en est informée.")
    if answer.get("over_capacity"):
        message += " Elle dépasse la capacité d'accueil : votre circonscription de PMI en est informée."
    return message


@bp.get("/contrats/<contract_id>")
@browser.login_required
def index_detail(contract_id):
    _assmat_only()
    contract = _api("GET", f"/api/contracts/{_segment(contract_id)}")
    return _detail_page(contract, Form(CHANGE_FIELDS, _current_schedule(contract)), Form(DEPARTURE_FIELDS, {}), [])


def _current_schedule(contract: dict) -> dict:
    values = {}
    for slot in contract.get("schedule") or []:
        values[f"start_{slot['weekday']}"] = slot["start"]
        values[f"end_{slot['weekday']}"] = slot["end"]
    return values


def _current_contacts(contract: dict) -> dict:
    values = {}
    for n, representative in enumerate(contract.get("representatives") or [], start=1):
        for part in ("name", "phone", "email"):
            values[f"rep{n}_{part}"] = representative.get(part) or ""
    return values


def _detail_page(contract, change_form, departure_form, exceedances, status=200, contacts_form=None):
    contacts_form = contacts_form or Form(CONTACTS_FIELDS, _current_contacts(contract))
    return render_template("contracts/detail.html", contract=contract, change=change_form, departure=departure_form,
                           contacts=contacts_form, exceedances=exceedances, weekdays=WEEKDAYS,
                           kinds=KIND_LABELS), status


@bp.post("/contrats/<contract_id>/representants")
@browser.login_required
def index_contacts(contract_id):
    """R421-39: a change of the legal representatives' contacts is declared too."""
    _assmat_only()
    contract = _api("GET", f"/api/contracts/{_segment(contract_id)}")
    form = Form(CONTACTS_FIELDS, request.form)
    _check_date(form, "contacts_date", "la date du changement")
    representatives = _representatives(form)
    if form.ok:
        try:
            answer = _api("POST", f"/api/contracts/{_segment(contract_id)}/changes", json={
                "effective_date": form["contacts_date"], "representatives": representatives})
        except DownstreamError as error:
            if "effective_date" in error.fields:
                form.error("contacts_date", error.fields["effective_date"])
            _show_refusal(form, error)
        else:
            flash(_declared_message("La modification", answer), "success")
            return redirect(url_for("contracts.index_detail", contract_id=contract_id), 303)
    return _detail_page(contract, Form(CHANGE_FIELDS, _current_schedule(contract)), Form(DEPARTURE_FIELDS, {}), [],
                        400, form)


@bp.post("/contrats/<contract_id>/changement")
@browser.login_required
def index_change(contract_id):
    _assmat_only()
    contract = _api("GET", f"/api/contracts/{_segment(contract_id)}")
    form = Form(CHANGE_FIELDS, request.form)
    _check_date(form, "effective_date", "la date du changement")
    schedule = _schedule(form)
    exceedances = []
    if form.ok:
        body = {"effective_date": form["effective_date"], "schedule": schedule}
        try:
            answer = _api("POST", f"/api/contracts/{_segment(contract_id)}/changes", json={
                **body, "confirm_over_capacity": request.form.get("confirm_over_capacity") == "oui"})
        except DownstreamError as error:
            exceedances = _show_refusal(form, error, (f"/api/contracts/{_segment(contract_id)}/changes/check", body))
        else:
            flash(_declared_message("La modification", answer), "success")
            return redirect(url_for("contracts.index_detail", contract_id=contract_id), 303)
    return _detail_page(contract, form, Form(DEPARTURE_FIELDS, {}), exceedances, 409 if exceedances else 400)


@bp.post("/contrats/<contract_id>/depart")
@browser.login_required
def index_departure(contract_id):
    _assmat_only()
    contract = _api("GET", f"/api/contracts/{_segment(contract_id)}")
    form = Form(DEPARTURE_FIELDS, request.form)
    _check_date(form, "end_date", "la date de départ")
    if form.ok:
        try:
            answer = _api("POST", f"/api/contracts/{_segment(contract_id)}/departure",
                          json={"end_date": form["end_date"]})
        except DownstreamError as error:
            _show_refusal(form, error)
        else:
            flash(_declared_message("Le départ", answer).replace("déclarée", "déclaré").replace("Elle ", "Il "),
                  "success")
            return redirect(url_for("contracts.index_detail", contract_id=contract_id), 303)
    return _detail_page(contract, Form(CHANGE_FIELDS, _current_schedule(contract)), form, [], 400)


@bp.get("/contrats/semaine")
@browser.login_required
def index_week():
    _assmat_only()
    start = request.args.get("du", "")
    params = {"from": start} if ISO_DATE.fullmatch(start) else None
    week = _api("GET", "/api/capacity/week", params=params)
    first = date.fromisoformat(week["from"])
    return render_template("contracts/week.html", week=week,
                           previous=(first - timedelta(days=7)).isoformat(), next=(first + timedelta(days=7)).isoformat())


@bp.route("/contrats/surnombre", methods=["GET", "POST"])
@browser.login_required
def index_over_capacity():
    """Two steps: the reason and the days, then each day's total of under-11s (D421-17), computed from her
    contracts by agrement-svc and corrected by her, before it is told to the PMI."""
    _assmat_only()
    form = Form(OVER_CAPACITY_FIELDS, request.form if request.method == "POST" else {})
    totals: dict[str, str] = {}
    if request.method == "GET":
        return render_template("contracts/over_capacity.html", form=form, totals=totals)
    if not form["reason"]:
        form.error("reason", "Indiquez le motif (vacances scolaires, besoin imprévu…).")
    _check_date(form, "start_date", "le premier jour")
    _check_date(form, "end_date", "le dernier jour")
    body = {"reason": form["reason"], "start_date": form["start_date"], "end_date": form["end_date"]}
    confirming = request.form.get("step") == "totals"
    if form.ok:
        try:
            if not confirming:
                checked = _api("POST", "/api/over-capacity/check", json=body)
                totals = {day: str(value) for day, value in checked["day_totals"].items()}
                return render_template("contracts/over_capacity.html", form=form, totals=totals)
            told = {key[len("total_"):]: request.form[key].strip() for key in request.form
                    if key.startswith("total_") and ISO_DATE.fullmatch(key[len("total_"):])}
            totals = told
            if any(not value.isdigit() for value in told.values()):
                form.error("reason", "Chaque total doit être un nombre d'enfants (0 ou plus).")
            else:
                answer = _api("POST", "/api/over-capacity", json={**body, "day_totals": {
                    day: int(value) for day, value in told.items()}})
                message = "L'accueil en surnombre est déclaré à la PMI."
                if answer.get("late"):
                    message += " Il est signalé plus de 48 heures après son début (article D421-17 du CASF)."
                flash(message, "success")
                return redirect(url_for("contracts.index"), 303)
        except DownstreamError as error:
            _show_refusal(form, error)
            if "day_totals" in error.fields:
                form.error("reason", error.fields["day_totals"])
    return render_template("contracts/over_capacity.html", form=form, totals=totals), 400


# --- Vos propres enfants --------------------------------------------------------------------------------------

@bp.route("/enfants", methods=["GET", "POST"])
@browser.login_required
def own_children():
    _assmat_only()
    form = Form(CHILD_FIELDS, request.form if request.method == "POST" else {})
    status = 200
    if request.method == "POST":
        if not form["first_name"]:
            form.error("first_name", "Indiquez le prénom de l'enfant.")
        _check_date(form, "birth_date", "la date de naissance")
        if form.ok:
            try:
                _api("POST", "/api/own-children", json={"first_name": form["first_name"],
                                                         "birth_date": form["birth_date"]})
            except DownstreamError as error:
                _show_refusal(form, error)
            else:
                flash(f"{form['first_name']} est enregistré·e.", "success")
                return redirect(url_for("contracts.own_children"), 303)
        status = 400
    children = _api("GET", "/api/own-children")["children"]
    return render_template("contracts/own_children.html", form=form, children=children), status


@bp.post("/enfants/<child_id>/retirer")
@browser.login_required
def own_children_remove(child_id):
    _assmat_only()
    try:
        _api("DELETE", f"/api/own-children/{_segment(child_id)}")
    except DownstreamError as error:
        flash(error.message, "error")
    else:
        flash("L'enfant est retiré de la liste.", "success")
    return redirect(url_for("contracts.own_children"), 303)
