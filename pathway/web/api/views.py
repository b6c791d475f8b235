"""The API's routes: parse -> service -> commit -> serialise. No SQL here.

Every route but the OpenAPI document needs a bearer token; every patient route needs the
coordinator or clinician role, checked before any record is looked up, so a wrong role gets
the same 403 for a record that exists and one that does not.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, request, url_for

from pathway.models import Episode
from pathway.services import board as board_service
from pathway.services import episodes, patients, planning, queries, serialize
from pathway.services import worklist as worklist_service
from pathway.services.base import ValidationError
from pathway.services.parsing import parse_instant
from pathway.web.api import bp
from pathway.web.api.core import answer, json_body, only_fields, query_flag, query_int, staff
from pathway.web.context import db, env


def _episode_json(episode: Episode) -> dict[str, Any]:
    return serialize.episode(
        episode,
        messages=planning.episode_messages(db(), episode),
        checklist=episodes.go_no_go(env(), episode),
        definition=env().rules.definition,
    )


def _tz(episode: Episode) -> ZoneInfo:
    return ZoneInfo(episode.patient.timezone)


# --- patients ------------------------------------------------------------------------------


@bp.post("/patients")
def create_patient() -> Response:
    a = staff()
    patient = patients.enrol_patient(db(), env(), a, json_body())
    return answer(serialize.patient(patient, []), 201,
                  location=url_for("api.get_patient", patient_id=patient.id))


@bp.get("/patients/<int:patient_id>")
def get_patient(patient_id: int) -> Response:
    record = queries.patient_record(db(), env(), staff(), patient_id)  # audits the view
    return answer(serialize.patient(record.patient, record.episodes))


# --- episodes ------------------------------------------------------------------------------


@bp.post("/patients/<int:patient_id>/episodes")
def create_episode(patient_id: int) -> Response:
    a = staff()
    episode = episodes.schedule_episode(db(), env(), a, patient_id, json_body())
    return answer(_episode_json(episode), 201, location=url_for("api.get_episode", episode_id=episode.id))


@bp.get("/episodes/<int:episode_id>")
def get_episode(episode_id: int) -> Response:
    record = queries.episode_record(db(), env(), staff(), episode_id)  # audits the view
    episode = record.episode
    return answer(serialize.episode(
        episode,
        messages=[m for m in record.messages if m.episode_id == episode.id],
        checklist=record.checklist,
        definition=env().rules.definition,
    ))


@bp.patch("/episodes/<int:episode_id>")
def reschedule_episode(episode_id: int) -> Response:
    """Move the procedure. ``?preview=1`` answers what would change and changes nothing."""
    a = staff()
    preview = query_flag("preview")
    data = json_body()
    only_fields(data, ("procedure_at",))
    before = episodes.load_episode(db(), episode_id, lock=not preview).procedure_at
    result = episodes.reschedule(db(), env(), a, episode_id, data, preview=preview)
    episode = result.episode
    tz = _tz(episode)
    if preview:
        errors: dict[str, str] = {}
        after = parse_instant(errors, "procedure_at", data.get("procedure_at"), tz)
        assert after is not None and not errors  # the service has accepted it
    else:
        after = episode.procedure_at
    change = serialize.plan_diff(result.diff, tz=tz, definition=env().rules.definition, applied=result.applied,
                                 episode_id=episode.id, procedure_at_before=before, procedure_at_after=after)
    if preview:
        return answer(change)
    return answer({**_episode_json(episode), "change": change})


@bp.post("/episodes/<int:episode_id>/cancel")
def cancel_episode(episode_id: int) -> Response:
    a = staff()
    episode = episodes.cancel_episode(db(), env(), a, episode_id, json_body())
    return answer(_episode_json(episode))


@bp.post("/episodes/<int:episode_id>/procedure-end")
def procedure_end(episode_id: int) -> Response:
    a = staff()
    episode = episodes.record_procedure_end(db(), env(), a, episode_id, json_body())
    return answer(_episode_json(episode))


def _book(episode_id: int, kind: str) -> Response:
    a = staff()
    appointment = episodes.book_appointment(db(), env(), a, episode_id, kind, json_body())
    return answer(_episode_json(appointment.episode))


@bp.post("/episodes/<int:episode_id>/follow-up")
def book_follow_up(episode_id: int) -> Response:
    return _book(episode_id, "follow_up")


@bp.post("/episodes/<int:episode_id>/pt-start")
def book_pt_start(episode_id: int) -> Response:
    return _book(episode_id, "pt_start")


# --- holds and milestones ------------------------------------------------------------------


@bp.post("/holds/<int:hold_id>/clearance")
def record_clearance(hold_id: int) -> Response:
    hold = episodes.record_clearance(db(), env(), staff(), hold_id, json_body())
    return answer(serialize.hold(hold, _tz(hold.episode)))


@bp.post("/milestones/<int:milestone_id>/complete")
def complete_milestone(milestone_id: int) -> Response:
    a = staff()
    m = episodes.complete_milestone(db(), env(), a, milestone_id, json_body())
    return answer(serialize.milestone(m, _tz(m.episode), env().rules.definition))


# --- lists ---------------------------------------------------------------------------------


@bp.get("/worklist")
def worklist() -> Response:
    a = staff()
    errors: dict[str, str] = {}
    limit = query_int(errors, "limit", 200, minimum=1, maximum=500)
    if errors:
        raise ValidationError(errors)
    items = worklist_service.worklist(db(), env(), a, limit=limit)  # audits the view
    return answer({"items": [serialize.worklist_item(i) for i in items], "count": len(items), "limit": limit})


@bp.get("/followups")
def followups() -> Response:
    a = staff()
    errors: dict[str, str] = {}
    limit = query_int(errors, "limit", 200, minimum=1, maximum=500)
    offset = query_int(errors, "offset", 0, minimum=0, maximum=10_000_000)
    status = request.args.get("status") or None
    proceduralist = request.args.get("proceduralist") or None
    if status is not None and status not in ("all", *board_service.STATUS_FILTERS):
        errors["status"] = f"must be one of all, {', '.join(board_service.STATUS_FILTERS)}"  # named with the rest
    if errors:
        raise ValidationError(errors)
    board = board_service.followup_board(db(), env(), a, status=status, proceduralist=proceduralist,
                                         limit=limit, offset=offset)  # audits the view
    return answer(serialize.board(board, limit=limit, offset=offset, status=status, proceduralist=proceduralist))
