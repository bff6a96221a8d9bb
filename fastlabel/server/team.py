"""Team routes: sign-in and sign-out, who am I, user management (admins), agreement, the
disagreement queue's resolutions (admins), and who is labeling now."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from ..errors import InvalidInput
from ..users import ADMIN, LABELER
from .auth import COOKIE, COOKIE_DAYS, Auth, current_labeler, current_user
from .bodies import field_body, json_body, parse_labels, request_id_arg
from .media import item_json
from .runtime import runtime

team = Blueprint("team", __name__)


def auth() -> Auth:
    return current_app.extensions["fastlabel.auth"]


@team.post("/api/signin")
def sign_in() -> Response:
    """Body {"token": "..."}: sets the HttpOnly, SameSite=Strict cookie the page and its socket send."""
    raw = json_body()
    if not isinstance(raw, dict) or not isinstance(raw.get("token"), str):
        raise InvalidInput('body must be {"token": "..."}')
    user = auth().sign_in(raw["token"].strip(), request.remote_addr or "?")
    res = jsonify({"name": user.name, "role": user.role})
    res.set_cookie(COOKIE, raw["token"].strip(), max_age=COOKIE_DAYS * 86400, httponly=True, samesite="Strict",
                   secure=request.is_secure, path="/")
    return res


@team.post("/api/signout")
def sign_out() -> Response:
    res = jsonify({"signed_out": True})
    res.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict")
    return res


@team.get("/api/me")
def me() -> Response:
    user = current_user()
    return jsonify({"name": current_labeler(), "role": user.role if user else ADMIN, "team": auth().team})


# -- users (admins) ---------------------------------------------------------------------------------
@team.get("/api/users")
def list_users() -> Response:
    return jsonify({"users": [u.public() for u in auth().users.users()]})


@team.post("/api/users")
def add_user() -> Response:
    """Body {"name": "...", "role": "labeler"|"admin"}: the answer holds the token, shown this once."""
    raw = json_body()
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or raw.get("role", LABELER) not in (ADMIN, LABELER):
        raise InvalidInput('body must be {"name": "...", "role": "labeler" or "admin"}')
    token = auth().users.add(raw["name"], admin=raw.get("role") == ADMIN)
    return jsonify({"name": raw["name"], "role": raw.get("role", LABELER), "token": token}), 201


@team.delete("/api/users/<name>")
def remove_user(name: str) -> Response:
    auth().users.remove(name)
    return jsonify({"removed": name})


@team.post("/api/users/<name>/rotate")
def rotate_user(name: str) -> Response:
    return jsonify({"name": name, "token": auth().users.rotate(name)})


# -- agreement and resolutions ----------------------------------------------------------------------
@team.get("/api/agreement")
def agreement() -> Response:
    """Pairwise agreement and Cohen's kappa, Krippendorff's alpha, each labeler's agreement with the
    others (flagged below the threshold), and the disagreement queue, with each card's image."""
    ws = runtime().workspace
    report = ws.session.agreement()
    probs = ws.session.probs
    ws.warm_cards([row["id"] for row in report["disagreements"][:200]])
    for row in report["disagreements"][:200]:
        row.update(item_json(ws, row["id"], probs[row["id"]]))
    return jsonify(report)


@team.post("/api/resolve")
def resolve() -> Response:
    """Body [{"id", "label"}]: an admin's decision on disagreed items (a label_resolved event); the head retrains."""
    session = runtime().workspace.session
    done = session.resolve(parse_labels(json_body(), session.n_items), labeler=current_labeler(),
                           request_id=request_id_arg())
    return jsonify({"counts": session.counts(), "submission": done.seq, "history_point": done.point.to_dict(),
                    "repeated": done.repeated, "retrain_queued": done.queued, **({"warning": done.warning} if done.warning else {})})


@team.get("/api/team")
def activity() -> Response:
    """Who is labeling this concept now: labelers active, pages per minute each, cards leased; and how
    many overlap cards each page carries."""
    session = runtime().workspace.session
    return jsonify({**session.team_activity(), "overlap_per_page": session.overlap_now})


@team.post("/api/team/overlap")
def set_overlap() -> Response:
    """Body {"per_page": N}: overlap cards per page on this concept from now on (admins; an overlap_set event)."""
    session = runtime().workspace.session
    per_page = field_body("per_page", '{"per_page": 2}')
    return jsonify({"overlap_per_page": session.set_overlap(per_page, labeler=current_labeler())})
