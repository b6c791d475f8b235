"""The API's routes: parse -> one use case -> commit -> answer. No SQL and no rules here.

Every route but the OpenAPI document needs a bearer token; every patient route needs the
coordinator or clinician role, checked before any record is looked up, so a wrong role gets
the same 403 for a record that exists and one that does not. ``@operation`` registers each
route and the models it reads and answers; the OpenAPI document is generated from them.
"""

from __future__ import annotations

from flask import Response, jsonify, url_for

from pathway.schemas import answers as out
from pathway.schemas import inputs
from pathway.services import answers, conversation, episodes, fhir, outcomes_report, patients, queries
from pathway.services import board as board_service
from pathway.services import calendar as calendar_service
from pathway.services import holds as holds_service
from pathway.services import observations as observations_service
from pathway.services import outcomes as outcomes_service
from pathway.services import replies as replies_service
from pathway.services import tasks as tasks_service
from pathway.services import worklist as worklist_service
from pathway.web.api.core import actor, answer, json_body, query, staff
from pathway.web.api.spec import READ, document, operation
from pathway.web.context import db, env

LISTS = (401, 403, 422)


@operation("/openapi.json", "GET", summary="This document (no token needed).", tag="meta", answers=(),
           answer_text="The OpenAPI 3.1 document.", errors=(), public=True)
def openapi_document() -> Response:
    return jsonify(document())


# --- patients ------------------------------------------------------------------------------


@operation("/patients", "POST", summary="Enrol a patient; with consent, queue the enrolment text.",
           tag="patients", body=inputs.PatientIn, answers=(out.Patient,), answer_text="The patient, with `id`.",
           status=201, errors=(401, 403, 409, 422))
def create_patient() -> Response:
    patient = patients.enrol_patient(db(), env(), staff(), json_body())
    return answer(answers.patient(patient, public_url=_public_url()), 201,
                  location=url_for("api.get_patient", patient_id=patient.id))


@operation("/patients", "GET",
           summary="Find patients by name, MRN or mobile phone; with no query, the active patients (audited).",
           tag="patients", query=inputs.PatientsQuery, answers=(out.PatientList,),
           answer_text="A page of patients, each with why they are in it.", errors=LISTS,
           description="A name in any case, with or without accents, given or family name first or "
                       "\"family, given\", the start of each; an MRN in any case; a mobile number as people "
                       "write it. With no `q`: patients with a procedure (not cancelled) in the last 30 days or "
                       "ahead. By family then given name; `limit`/`offset` page it, `total` counts every page. "
                       "The audit records the query and the patients shown.")
def list_patients() -> Response:
    a = staff()
    q = query(inputs.PatientsQuery)
    found = queries.patient_list(db(), env(), a, q.q, limit=q.rows, offset=q.skip)  # audits the view
    return answer(answers.patient_list(found))


@operation("/patients/<int:patient_id>", "GET", summary="A patient and their episodes (audited).",
           tag="patients", answers=(out.Patient,), answer_text="The patient.", errors=READ)
def get_patient(patient_id: int) -> Response:
    record = queries.patient_record(db(), env(), staff(), patient_id)  # audits the view
    return answer(answers.patient(record.patient, record.episodes, public_url=_public_url()))


def _public_url() -> str:
    return env().rules.clinic.public_url


@operation("/patients/<int:patient_id>/calendar", "POST",
           summary="Re-issue the patient's private calendar link: the old one answers 404 at once (audited).",
           tag="calendars", answers=(out.Patient,), answer_text="The patient, with the new `calendar_url`.",
           errors=(401, 403, 404))
def reissue_calendar(patient_id: int) -> Response:
    patient = calendar_service.reissue_patient_link(db(), env(), staff(), patient_id)
    return answer(answers.patient(patient, public_url=_public_url()))


@operation("/patients/<int:patient_id>/calendar", "DELETE",
           summary="Revoke the patient's private calendar link (audited); `calendar_url` is then null.",
           tag="calendars", answers=(out.Patient,), answer_text="The patient, without a `calendar_url`.",
           errors=(401, 403, 404))
def revoke_calendar(patient_id: int) -> Response:
    patient = calendar_service.revoke_patient_link(db(), env(), staff(), patient_id)
    return answer(answers.patient(patient, public_url=_public_url()))


@operation("/calendar-feeds", "GET", summary="The staff calendar feeds (admin or coordinator).",
           tag="calendars", answers=(out.CalendarFeeds,), answer_text="Every staff feed, revoked ones too.",
           errors=(401, 403))
def list_calendar_feeds() -> Response:
    feeds = calendar_service.list_feeds(db(), actor())
    return answer(out.CalendarFeeds(feeds=[answers.calendar_feed(f, _public_url()) for f in feeds]))


@operation("/calendar-feeds", "POST",
           summary="Create a staff calendar feed of one proceduralist's or facility's procedures and visits "
                   "(admin or coordinator; audited).", tag="calendars", body=inputs.CalendarFeedIn,
           answers=(out.CalendarFeed,), answer_text="The feed with its `url` (patients by initials only).",
           status=201, errors=(401, 403, 422))
def create_calendar_feed() -> Response:
    feed = calendar_service.create_feed(db(), env(), actor(), json_body())
    return answer(answers.calendar_feed(feed, _public_url()), 201)


@operation("/calendar-feeds/<int:feed_id>", "DELETE",
           summary="Revoke a staff calendar feed: its address answers 404 at once (audited).", tag="calendars",
           answers=(out.CalendarFeed,), answer_text="The revoked feed.", errors=(401, 403, 404, 409))
def revoke_calendar_feed(feed_id: int) -> Response:
    feed = calendar_service.revoke_feed(db(), env(), actor(), feed_id)
    return answer(answers.calendar_feed(feed, _public_url()))


# --- episodes ------------------------------------------------------------------------------


@operation("/patients/<int:patient_id>/episodes", "POST",
           summary="Schedule a MILD episode with its holds; plans the timeline and texts.", tag="episodes",
           body=inputs.EpisodeIn, answers=(out.Episode,),
           answer_text="The episode with milestones, holds and texts.", status=201)
def create_episode(patient_id: int) -> Response:
    episode = episodes.schedule_episode(db(), env(), staff(), patient_id, json_body())
    return answer(answers.episode_now(db(), env(), episode), 201,
                  location=url_for("api.get_episode", episode_id=episode.id))


@operation("/episodes/<int:episode_id>", "GET",
           summary="An episode with its timeline, holds, appointments and texts (audited).", tag="episodes",
           answers=(out.Episode,), answer_text="The episode.", errors=READ)
def get_episode(episode_id: int) -> Response:
    record = queries.episode_record(db(), env(), staff(), episode_id)  # audits the view
    assert record.decision is not None
    return answer(answers.episode(record.episode, messages=record.episode_messages, decision=record.decision,
                                  definition=env().rules.definition, public_url=_public_url()))


@operation("/episodes/<int:episode_id>/fhir", "GET",
           summary="The episode as a FHIR R4 Bundle (type collection), for an EHR (audited).", tag="episodes",
           answers=(), answer_text="A FHIR R4 `Bundle` of type `collection`: the Patient, a CarePlan whose "
                                   "activities are the milestones' Tasks, Appointments, a MedicationStatement "
                                   "per hold (RxNorm-coded), CommunicationRequests, Communications and "
                                   "Observations.",
           errors=READ, media_type=fhir.FHIR_JSON,
           description="Every entry has a `fullUrl` `urn:uuid:<id>`, and every reference points at an entry "
                       "of the same bundle. Ids are stable: the same record always has the same id. A text's "
                       "words are included only for patients who chose detailed texts. Observations are coded "
                       "with LOINC where one exists (pain 0-10: 72514-3).")
def episode_fhir(episode_id: int) -> Response:
    bundle = fhir.episode_bundle(db(), env(), staff(), episode_id)  # audits the view
    return answer(bundle, media_type=fhir.FHIR_JSON)


@operation("/episodes/<int:episode_id>", "PATCH",
           summary="Move the procedure and/or change the episode's details and candidacy items (re-plans what "
                   "they affect; a move notifies the patient).", tag="episodes",
           body=inputs.RescheduleIn, query=inputs.PreviewQuery, answers=(out.EpisodeChanged, out.PlanDiff),
           answer_text="Without preview: the episode with `change`. With ?preview=1: the PlanDiff alone.",
           description="Send only the fields to change: `procedure_at` (with `confirm_holds_at_risk`), `facility`, "
                       "`facility_address`, `arrival_at` (null: the default arrival), `proceduralist`, `levels`, "
                       "`mri_reviewed_on`, `tried_pt`, `tried_medication`, "
                       "`tried_injections`, `escort_arranged`; any other field is a 422, and so is a body with none "
                       "(`version`, the episode's version the change was made from, may go with them). "
                       "All of them change in one transaction, audited once with the names of the fields that "
                       "changed. Candidacy items change `go` and `blockers`. A move that breaks signed holds "
                       "answers 409 with `holds_at_risk` unless confirmed. The arrival, the address line and the "
                       "facility re-word the day-before text; a moved procedure keeps an episode's own arrival lead.",
           conflict=("The episode is cancelled, or the move breaks signed holds: they are listed in "
                     "`holds_at_risk`; send `confirm_holds_at_risk: true` to apply it.", out.Conflict))
def reschedule_episode(episode_id: int) -> Response:
    """Move the procedure. ``?preview=1`` answers what would change and changes nothing."""
    a = staff()
    preview = query(inputs.PreviewQuery).preview
    try:
        result = episodes.reschedule(db(), env(), a, episode_id, json_body(), preview=preview)
    except episodes.HoldsAtRisk as refused:
        return answer(out.Conflict(message=str(refused), holds_at_risk=answers.holds_at_risk(refused.risks)), 409)
    return answer(answers.rescheduled(db(), env(), result))


@operation("/episodes/<int:episode_id>/cancel", "POST",
           summary="Cancel the episode: pending texts are cancelled, the patient is told.", tag="episodes",
           body=inputs.CancelIn, answers=(out.Episode,), answer_text="The cancelled episode.")
def cancel_episode(episode_id: int) -> Response:
    episode = episodes.cancel_episode(db(), env(), staff(), episode_id, json_body())
    return answer(answers.episode_now(db(), env(), episode))


@operation("/episodes/<int:episode_id>/procedure-end", "POST",
           summary="Record when the procedure ended; restarts are counted from it.", tag="episodes",
           body=inputs.ProcedureEndIn, answers=(out.Episode,), answer_text="The completed episode.")
def procedure_end(episode_id: int) -> Response:
    episode = episodes.record_procedure_end(db(), env(), staff(), episode_id, json_body())
    return answer(answers.episode_now(db(), env(), episode))


@operation("/episodes/<int:episode_id>/follow-up", "POST", summary="Book or move the clinic follow-up visit.",
           tag="episodes", body=inputs.AppointmentIn, answers=(out.Episode,),
           answer_text="The episode with the appointment.")
def book_follow_up(episode_id: int) -> Response:
    appointment = episodes.book_appointment(db(), env(), staff(), episode_id, "follow_up", json_body())
    return answer(answers.episode_now(db(), env(), appointment.episode))


@operation("/episodes/<int:episode_id>/pt-start", "POST", summary="Book or move the physical-therapy start.",
           tag="episodes", body=inputs.AppointmentIn, answers=(out.Episode,),
           answer_text="The episode with the appointment.")
def book_pt_start(episode_id: int) -> Response:
    appointment = episodes.book_appointment(db(), env(), staff(), episode_id, "pt_start", json_body())
    return answer(answers.episode_now(db(), env(), appointment.episode))


@operation("/episodes/<int:episode_id>/observations", "GET",
           summary="The episode's observations (pain scores, stopped medicines, walking minutes), oldest first "
                   "(audited).", tag="episodes", answers=(out.Observation,), many=True,
           answer_text="A list of observations.", errors=READ)
def list_observations(episode_id: int) -> Response:
    found = observations_service.list_observations(db(), env(), staff(), episode_id)
    return answer([answers.observation(o).dump() for o in found])


@operation("/episodes/<int:episode_id>/observations", "POST",
           summary="Record an observation of the episode (audited).", tag="episodes", body=inputs.ObservationIn,
           answers=(out.Observation,), answer_text="The new observation.", status=201,
           description="`code` is nprs (0-10), stopped_medicine (1 yes, 0 no; with `hold_id` when the episode "
                       "has more than one hold), walk_minutes or stand_minutes (0-600), odi (0-100), zcq_symptom "
                       "(1-5) or global_change (1-7); `time_point` is baseline, 72h, visit, 6w, 3m, 6m, "
                       "12m, 24m or null. A 72h pain score at or over the threshold of mild_pathway.toml, or far "
                       "over the baseline, opens a same-day `pain_high` worklist item. 422 names the bad field.")
def record_observation(episode_id: int) -> Response:
    obs = observations_service.record_observation(db(), env(), staff(), episode_id, json_body())
    return answer(answers.observation(obs), 201,
                  location=url_for("api.list_observations", episode_id=obs.episode_id))


@operation("/episodes/<int:episode_id>/outcomes", "GET",
           summary="The episode's outcomes: the current value of each measure at each time point, with its "
                   "change from the baseline and the values it replaced (audited).", tag="episodes",
           answers=(out.Outcome,), many=True, answer_text="A list of outcomes, in time-point then measure order.",
           errors=READ)
def list_outcomes(episode_id: int) -> Response:
    rows = outcomes_service.list_outcomes(db(), env(), staff(), episode_id)
    return answer([answers.outcome(r).dump() for r in rows])


@operation("/episodes/<int:episode_id>/outcomes", "POST",
           summary="Record an outcome at a time point (audited).", tag="episodes", body=inputs.OutcomeIn,
           answers=(out.Outcome,), answer_text="The outcome as it now stands.", status=201,
           description="`measure` is nprs (0-10), walk_minutes or stand_minutes (0-600), odi (0-100), zcq_symptom "
                       "(1-5) or global_change (1-7); `time_point` is baseline, 72h, visit, 6w, 3m, 6m, 12m or 24m; "
                       "`source` is sms, visit or phone; `recorded_at` (the patient's local time without an offset) "
                       "defaults to now. A later value for the same time point and measure replaces the current one, "
                       "which stays in `history`. 422 names the bad field.")
def record_outcome(episode_id: int) -> Response:
    obs = outcomes_service.record_outcome(db(), env(), staff(), episode_id, json_body())
    return answer(answers.outcome(outcomes_service.outcome_row(db(), obs)), 201,
                  location=url_for("api.list_outcomes", episode_id=obs.episode_id))


# --- holds and milestones ------------------------------------------------------------------


@operation("/holds/<int:hold_id>/clearance", "POST", summary="Record the prescriber's clearance of a hold.",
           tag="holds", body=inputs.ClearanceIn, answers=(out.Hold,), answer_text="The hold.")
def record_clearance(hold_id: int) -> Response:
    hold = episodes.record_clearance(db(), env(), staff(), hold_id, json_body())
    return answer(answers.hold(hold))


@operation("/holds/<int:hold_id>/inr", "POST",
           summary="Record a warfarin patient's INR; a recent normal value clears the INR blockers.", tag="holds",
           body=inputs.InrIn, answers=(out.Hold,), answer_text="The hold with its INR.")
def record_inr(hold_id: int) -> Response:
    hold = episodes.record_inr(db(), env(), staff(), hold_id, json_body())
    return answer(answers.hold(hold))


@operation("/milestones/<int:milestone_id>/complete", "POST", summary="Mark a step done, with an optional result.",
           tag="milestones", body=inputs.MilestoneCompleteIn, answers=(out.Milestone,),
           answer_text="The milestone.")
def complete_milestone(milestone_id: int) -> Response:
    m = episodes.complete_milestone(db(), env(), staff(), milestone_id, json_body())
    return answer(answers.milestone(m, env().rules.definition))


# --- editing an episode after saving: its holds (issue 10) ---------------------------------


@operation("/episodes/<int:episode_id>/holds", "POST",
           summary="Add a medicine to hold, before the procedure; it needs clearance like any other.", tag="holds",
           body=inputs.HoldAddIn, query=inputs.PreviewQuery, answers=(out.EpisodeChanged, out.PlanDiff),
           answer_text="Without preview (201): the episode with `change` (the new hold is the last of `holds`). "
                       "With ?preview=1 (200): the PlanDiff alone, nothing stored.", status=201, also=(200,),
           description="The body is a hold as in scheduling (brand names resolve; free text needs a clinician's "
                       "plan). The hold starts with clearance `needed`: a `hold_clearance` step is planned, the "
                       "worklist shows it, and no stop text goes until it is approved and signed. 409 once the "
                       "procedure time has passed or the episode is cancelled or completed.")
def add_hold(episode_id: int) -> Response:
    a = staff()
    preview = query(inputs.PreviewQuery).preview
    result = episodes.add_hold(db(), env(), a, episode_id, json_body(), preview=preview)
    if not result.applied:
        return answer(answers.rescheduled(db(), env(), result))
    return answer(answers.rescheduled(db(), env(), result), 201,
                  location=url_for("api.get_episode", episode_id=result.episode.id))


@operation("/holds/<int:hold_id>", "DELETE",
           summary="Remove a hold before the procedure: its texts are cancelled and the plan re-planned.",
           tag="holds", query=inputs.HoldRemoveQuery, answers=(out.EpisodeChanged, out.PlanDiff),
           answer_text="Without preview: the episode with `change`. With ?preview=1: the PlanDiff alone.",
           description="The hold is kept for the record, marked removed, and left out of the episode, its texts, "
                       "the go / no go and every list. When its last dose has come the patient may already have "
                       "stopped the medicine: the removal answers 409 unless `confirm_stopped=1`; confirmed, a "
                       "`restart_after_removal` call goes on the worklist. 409 once the procedure time has passed, "
                       "or the episode is cancelled or completed, or the hold was already removed.")
def remove_hold(hold_id: int) -> Response:
    a = staff()
    q = query(inputs.HoldRemoveQuery)
    try:
        result = episodes.remove_hold(db(), env(), a, hold_id, confirm_stopped=q.confirm_stopped, preview=q.preview,
                                      version=q.version)
    except episodes.HoldStopped as refused:
        return answer(out.Error(message=str(refused)), 409)  # the refusal's audit row is kept
    return answer(answers.rescheduled(db(), env(), result))


@operation("/holds/<int:hold_id>", "PATCH",
           summary="Record what the patient calls a held medicine; texts not yet sent are re-worded.", tag="holds",
           body=inputs.HoldLabelIn, query=inputs.PreviewQuery, answers=(out.EpisodeChanged, out.PlanDiff),
           answer_text="Without preview: the episode with `change` (its `messages_reworded`). With ?preview=1: "
                       "the PlanDiff alone.",
           description="Words only: the hold's plan, dates and signature stay. When two medicines would read the "
                       "same in default texts, texts name the drug; a label for each keeps drug names off them.")
def label_hold(hold_id: int) -> Response:
    a = staff()
    preview = query(inputs.PreviewQuery).preview
    result = episodes.label_hold(db(), env(), a, hold_id, json_body(), preview=preview)
    return answer(answers.rescheduled(db(), env(), result))


@operation("/holds/<int:hold_id>/stop-decision", "POST",
           summary="A clinician's decision about a medicine the patient says they have not stopped (audited).",
           tag="holds", body=inputs.StopDecisionIn, answers=(out.Episode,),
           answer_text="The episode: the hold's `hold_not_stopped` blocker is lifted.",
           description="The patient answered the stop question (the morning after the last-dose day) with no: "
                       "the episode shows a `hold_not_stopped` blocker (`go: false`) and the worklist an item right "
                       "below red flags, until a clinician records a decision here with a note. 403 for a "
                       "coordinator; 409 when there is nothing to decide.")
def stop_decision(hold_id: int) -> Response:
    a = staff()
    tasks_service.decide_not_stopped(db(), env(), a, hold_id, json_body())
    hold = episodes.load_hold(db(), hold_id, lock=False)
    return answer(answers.episode_now(db(), env(), hold.episode))


# --- lists ---------------------------------------------------------------------------------


@operation("/worklist", "GET", summary="The coordinator's worklist, most urgent first (audited).", tag="lists",
           query=inputs.WorklistQuery, answers=(out.Worklist,), answer_text="The items.", errors=LISTS)
def worklist() -> Response:
    a = staff()
    q = query(inputs.WorklistQuery)
    items = worklist_service.worklist(db(), env(), a, limit=q.rows)  # audits the view
    return answer(answers.worklist(items, q.rows))


@operation("/holds", "GET",
           summary="Holds waiting for a clinician's signature, earliest last dose first (audited).", tag="lists",
           query=inputs.HoldsQuery, answers=(out.HoldsToSign,), answer_text="The holds.", errors=LISTS,
           description="`status=unsigned`: clearance requested, or approved by the prescriber and not yet "
                       "signed, on scheduled episodes, with no time limit.")
def holds_to_sign() -> Response:
    a = staff()
    query(inputs.HoldsQuery)
    rows = holds_service.unsigned_holds(db(), env(), a)  # audits the view
    return answer(answers.holds_to_sign(rows))


@operation("/followups", "GET", summary="The follow-up board (audited).", tag="lists", query=inputs.BoardQuery,
           answers=(out.FollowupBoard,), answer_text="A page of rows.", errors=LISTS)
def followups() -> Response:
    a = staff()
    q = query(inputs.BoardQuery)
    board = board_service.followup_board(db(), env(), a, status=q.status, proceduralist=q.proceduralist,
                                         limit=q.rows, offset=q.skip)  # audits the view
    return answer(answers.board(board, q))


# --- patient edits (issue 10, "Editing after saving": the patient half) ----------------------


@operation("/patients/<int:patient_id>", "PATCH",
           summary="Change a patient's name, phone, time zone, language, detailed texts or consent; re-plans "
                   "their texts.", tag="patients",
           body=inputs.PatientUpdateIn, query=inputs.PreviewQuery, answers=(out.PatientChanged, out.PatientChange),
           answer_text="Without preview: the patient with `change`. With ?preview=1: the PatientChange alone.",
           description="Only the fields sent change (at least one; MRN, birth date and any other field are a 422; "
                       "`version`, the patient's version the change was made from, may go with them). "
                       "A new time zone moves texts not yet sent to the same local time in it; a new language or "
                       "detailed-texts choice re-words them; a new number clears the refused-number flag and gets "
                       "the enrolment text; `sms_consent: false` stops every text not yet sent. A new time zone "
                       "that changes a signed hold's last-dose day answers 409 with `holds_at_risk` unless "
                       "`confirm_holds_at_risk: true`; confirmed, each such hold is unsigned and goes on the "
                       "worklist.",
           conflict=("The new time zone changes signed holds' last-dose days: they are listed in `holds_at_risk`; "
                     "send `confirm_holds_at_risk: true` to apply it.", out.Conflict))
def update_patient(patient_id: int) -> Response:
    """Edit a patient. ``?preview=1`` answers what would change and changes nothing."""
    a = staff()
    preview = query(inputs.PreviewQuery).preview
    try:
        result = patients.update_patient(db(), env(), a, patient_id, json_body(), preview=preview)
    except episodes.HoldsAtRisk as refused:
        return answer(out.Conflict(message=str(refused), holds_at_risk=answers.holds_at_risk(refused.risks)), 409)
    return answer(answers.patient_updated(env(), result))


# --- replies and tasks (issue 11, "Replies from unknown and shared numbers", "Acting on replies") --


@operation("/replies/<int:reply_id>/link", "POST",
           summary="Say whom a reply from an unknown or shared number concerns; it becomes that patient's reply "
                   "(audited).", tag="replies", body=inputs.ReplyLinkIn, answers=(out.Reply,),
           answer_text="The reply, with its patient and episode.",
           description="A red flag becomes the patient's red-flag item, free text their reply to read. The "
                       "worklist's `unmatched_reply` item carries the `reply_id` and, for a shared number, the "
                       "`candidates`. 409 if the reply is linked to another patient or was dismissed.",
           conflict=("The reply is already linked to another patient, or was dismissed.", out.Error))
def link_reply(reply_id: int) -> Response:
    reply = replies_service.link_reply(db(), env(), staff(), reply_id, json_body())
    return answer(answers.reply(reply))


@operation("/replies/<int:reply_id>/dismiss", "POST",
           summary="Close a reply from an unknown or shared number that concerns no patient, with a note "
                   "(audited).", tag="replies", body=inputs.ReplyDismissIn, answers=(out.Reply,),
           answer_text="The reply, with `handled_at`.",
           conflict=("The reply is linked to a patient: resolve its task instead.", out.Error))
def dismiss_reply(reply_id: int) -> Response:
    reply = replies_service.dismiss_reply(db(), env(), staff(), reply_id, json_body())
    return answer(answers.reply(reply))


@operation("/tasks/<int:task_id>/resolve", "POST",
           summary="Mark a task done with a note of what was done (required for red flags; audited).",
           tag="lists", body=inputs.TaskResolveIn, answers=(out.Task,), answer_text="The resolved task.")
def resolve_task(task_id: int) -> Response:
    task = tasks_service.resolve_task(db(), env(), staff(), task_id, json_body())
    return answer(answers.task(task))


# --- the conversation with the patient (issue 11, "Acting on replies") ------------------------


@operation("/episodes/<int:episode_id>/thread", "GET",
           summary="The conversation with the patient about the episode, oldest first (audited).", tag="episodes",
           answers=(out.Thread,), answer_text="Texts sent (and one-off texts waiting), replies, and the notes "
                                             "people wrote when they dealt with a reply.", errors=READ,
           description="Each text carries its delivery state and history; each reply what it was read as (a red "
                       "flag's groups) and its open task, if any; each note (`type: note`) the task it closed, "
                       "who wrote it and when. Planned texts not yet sent are in the episode's `messages`.")
def episode_thread(episode_id: int) -> Response:
    t = conversation.thread(db(), env(), staff(), episode_id)  # audits the view
    return answer(answers.thread(t, env().rules.definition))


@operation("/episodes/<int:episode_id>/messages", "POST",
           summary="Send the patient a one-off text in your own words, through the outbox (audited).",
           tag="episodes", body=inputs.StaffTextIn, answers=(out.StaffText,),
           answer_text="The text as stored: `send_at` is now, or when the patient's quiet hours end.", status=201,
           description="The dispatcher sends it like any text and re-checks consent and opt-out when it goes. "
                       "Not urgent, a text typed in the patient's quiet hours waits for them to end "
                       "(`waits_for_quiet_hours`); `urgent: true` sends it at once. 422 naming `body` when it is "
                       "empty or longer than the pathway file's `[staff_text] max_segments` (3 SMS segments as "
                       "shipped). 409 when the patient opted out, has no consent to texts or a refused number, or "
                       "the episode is cancelled: call them instead.",
           conflict=("The patient cannot be texted (opted out, no consent, refused number) or the episode is "
                     "cancelled: the message says what to do instead.", out.Error))
def send_staff_text(episode_id: int) -> Response:
    result = conversation.send_staff_text(db(), env(), staff(), episode_id, json_body())
    assert result.message is not None
    return answer(answers.staff_text(result, env().rules.definition), 201,
                  location=url_for("api.episode_thread", episode_id=episode_id))


# --- reports (issue 12, "Outcomes") ------------------------------------------------------------


@operation("/reports/outcomes", "GET",
           summary="Outcomes at each time point against each episode's own baseline, the published figures and "
                   "process figures (clinicians and admins; audited).", tag="reports", query=inputs.OutcomesQuery,
           answers=(out.OutcomesReport,), answer_text="The report.", errors=LISTS,
           description="Procedures: episodes not cancelled whose procedure date, in the clinic's time zone, lies "
                       "from `from` to `to` (both included), of `proceduralist` and `facility` when given. A time "
                       "point has passed when its window has closed: at least window_end_day + 1 whole days since "
                       "the procedure's start, by the clock's now (`as_of`); `episodes` counts the procedures that "
                       "passed it and only they are counted further. Only current values count (a replaced value is "
                       "history). Change is measured against the episode's own baseline and only for episodes with "
                       "both values; `n` counts those episodes. `median` is the median value at the time point over "
                       "them and `median_change_pct` the median of 100 x (value - baseline) / baseline, leaving out "
                       "episodes whose baseline is 0 (they stay in `n` and are never responders); an even count "
                       "takes the mean of the two middle values; `median_ci95` and `median_change_pct_ci95` are "
                       "their distribution-free 95% intervals (the j-th and (n + 1 - j)-th ordered values, j from "
                       "the binomial; null below 6 values). Responders: NPRS down by at least 30% and at least "
                       "2 points; walking at least doubled or 30 minutes or more; ODI down by at least 10 points "
                       "(pathway/data/outcomes.toml). `pct` is 100 x responders / `n` with its 95% Wilson interval, "
                       "in percent; percentages have one decimal. `process` has the process figures of the "
                       "procedures in range that have taken place, each with its definition. 403 for a "
                       "coordinator.")
def outcomes() -> Response:
    a = actor()
    report = outcomes_report.outcomes_report(db(), env(), a, query(inputs.OutcomesQuery))  # audits the view
    return answer(answers.outcomes(report))
