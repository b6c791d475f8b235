"""The OpenAPI 3.1 description of /api/v1, served (without a token) at /api/v1/openapi.json.

Written by hand next to the views, so it says what the contract promises rather than what
the code happens to do; tests hold the two together both ways (every live route documented
with its methods, every documented path live) and validate real answers against it.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from pathway.models.episode import CLEARANCE_STATUSES, MILESTONE_KINDS, MILESTONE_STATUSES
from pathway.models.message import MESSAGE_KINDS, MESSAGE_STATUSES
from pathway.models.patient import LANGUAGES
from pathway.services.board import CHECK_72H_STATES, COUNT_KEYS, FOLLOW_UP_STATES, PT_STATES, STATUS_FILTERS
from pathway.services.episodes import MAX_INTERVAL_HOURS, MAX_STOP_DAYS
from pathway.web.api import bp

Schema = dict[str, Any]

# --- little builders ------------------------------------------------------------------------


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    if "$ref" in schema:
        return {"oneOf": [schema, {"type": "null"}]}
    out = dict(schema)
    kind = out.get("type")
    out["type"] = [*(kind if isinstance(kind, list) else [kind]), "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}
DATE: Schema = {"type": "string", "format": "date"}
INSTANT: Schema = {"type": "string", "format": "date-time",
                   "description": "ISO 8601 instant with a UTC offset"}
ID: Schema = {"type": "integer", "minimum": 1}


def enum(values: Any) -> Schema:
    return {"type": "string", "enum": list(values)}


def answer_object(description: str, props: dict[str, Schema]) -> Schema:
    """An object the API writes: every property is always present (null when absent)."""
    return {"type": "object", "description": description, "properties": props, "required": list(props)}


def times(*names: str, required: bool = False) -> dict[str, Schema]:
    """``name`` in UTC and ``name_local`` with the patient's offset, for each instant."""
    out: dict[str, Schema] = {}
    for name in names:
        kind = INSTANT if required else nullable(INSTANT)
        out[name] = kind
        out[f"{name}_local"] = {**kind, "description": "the same instant with the patient's UTC offset"}
    return out


# --- schemas -------------------------------------------------------------------------------

LOCAL_OR_OFFSET = ("ISO 8601 date-time. With an offset (or Z) it is taken as is; without one it is "
                   "the patient's local wall time (a time skipped or repeated by a DST change is refused).")

# The same bounds the services enforce (pathway.services.episodes).
HOLD_INTERVALS: dict[str, Schema] = {
    "stop_days": nullable({**INT, "minimum": 0, "maximum": MAX_STOP_DAYS}),
    "stop_hours": nullable({**INT, "minimum": 0, "maximum": MAX_INTERVAL_HOURS}),
    "restart_hours": nullable({**INT, "minimum": 0, "maximum": MAX_INTERVAL_HOURS}),
}

SCHEMAS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "description": "Any error. 422 answers also carry `errors`, naming every bad field.",
        "properties": {"message": STR, "errors": {"type": "object", "additionalProperties": STR}},
        "required": ["message"],
    },
    "ValidationError": {
        "type": "object",
        "description": "Bad input: `errors` maps every bad field (or `body`) to what is wrong and how to fix it. "
                       "Nested fields are named like `holds[0].drug`.",
        "properties": {"message": STR,
                       "errors": {"type": "object", "minProperties": 1, "additionalProperties": STR}},
        "required": ["message", "errors"],
    },
    # requests
    "PatientInput": {
        "type": "object",
        "properties": {
            "mrn": {**STR, "maxLength": 64},
            "given_name": {**STR, "maxLength": 120},
            "family_name": {**STR, "maxLength": 120},
            "birth_date": DATE,
            "phone": {**STR, "description": "a US mobile number; stored in E.164"},
            "timezone": {**STR, "description": "IANA zone, e.g. America/Chicago (default: the clinic's)"},
            "language": enum(LANGUAGES),
            "sms_consent": BOOL,
            "consent_method": enum(("verbal", "written", "electronic", "text")),
            "detailed_texts": BOOL,
        },
        "required": ["mrn", "given_name", "family_name", "birth_date", "phone"],
    },
    "HoldInput": {
        "type": "object",
        "properties": {
            "drug": {**STR, "description": "the catalogue key (lowercase generic name, e.g. clopidogrel, "
                                           "aspirin-primary); any other text is a drug with no default"},
            "prescriber_name": STR,
            "prescriber_phone": STR,
            **HOLD_INTERVALS,
        },
        "required": ["drug"],
    },
    "EpisodeInput": {
        "type": "object",
        "properties": {
            "procedure_at": {**STR, "description": LOCAL_OR_OFFSET},
            "duration_minutes": {**INT, "minimum": 10, "maximum": 480},
            "facility": STR,
            "proceduralist": STR,
            "levels": STR,
            "mri_reviewed_on": DATE,
            "tried_pt": BOOL,
            "tried_medication": BOOL,
            "tried_injections": BOOL,
            "escort_arranged": BOOL,
            "holds": {"type": "array", "items": ref("HoldInput")},
        },
        "required": ["procedure_at"],
    },
    "RescheduleInput": {
        "type": "object",
        "properties": {"procedure_at": {**STR, "description": LOCAL_OR_OFFSET}},
        "required": ["procedure_at"],
        "additionalProperties": False,
    },
    "CancelInput": {"type": "object", "properties": {"reason": {**STR, "maxLength": 500}}},
    "ProcedureEndInput": {
        "type": "object",
        "properties": {"ended_at": {**STR, "description": LOCAL_OR_OFFSET}},
        "required": ["ended_at"],
    },
    "ClearanceInput": {
        "type": "object",
        "description": "A coordinator or clinician records `requested`. `approved`, `declined` and "
                       "`not_required` (the prescriber's answer, named in `by`) and any change to the "
                       "intervals need a clinician's token: the call also signs the hold plan.",
        "properties": {
            "status": enum(("requested", "approved", "declined", "not_required")),
            "by": {**STR, "description": "the prescriber who answered (required for approved and declined)"},
            "note": STR,
            **HOLD_INTERVALS,
        },
        "required": ["status"],
    },
    "AppointmentInput": {
        "type": "object",
        "properties": {"appointment_at": {**STR, "description": LOCAL_OR_OFFSET}},
        "required": ["appointment_at"],
    },
    "MilestoneCompleteInput": {
        "type": "object",
        "properties": {"result": nullable({"type": "object", "description": "free-form, e.g. {\"pain\": 3}"})},
    },
    # answers
    "EpisodeSummary": answer_object("An episode in a patient's list.", {
        "id": ID, "status": enum(("scheduled", "completed", "cancelled")), "proceduralist": STR, "facility": STR,
        **times("procedure_at", required=True),
    }),
    "Patient": answer_object("A patient.", {
        "id": ID, "mrn": STR, "given_name": STR, "family_name": STR, "birth_date": DATE,
        "phone": {**STR, "description": "E.164"}, "timezone": STR, "language": enum(LANGUAGES),
        "detailed_texts": BOOL, "sms_consent": BOOL, "sms_consent_at": nullable(INSTANT),
        "sms_consent_method": nullable(STR), "opted_out_at": nullable(INSTANT), "opted_out_via": nullable(STR),
        "phone_flagged": BOOL, "can_text": BOOL, "created_at": INSTANT,
        "episodes": {"type": "array", "items": ref("EpisodeSummary"),
                     "description": "the patient's episodes, latest procedure first (at most 50)"},
    }),
    "Milestone": answer_object("A step on the episode's timeline: a due moment, a window, or both.", {
        "id": ID, "episode_id": ID, "kind": enum(MILESTONE_KINDS), "label": STR, "hold_id": nullable(ID),
        "status": enum(MILESTONE_STATUSES),
        **times("due_at", "window_start", "window_end", "completed_at"),
        "rule": {**STR, "description": "the rule and its source that placed this step"},
        "result": nullable({"type": "object"}),
    }),
    "Hold": answer_object("A blood thinner held for the procedure.", {
        "id": ID, "episode_id": ID,
        "drug": {**STR, "description": "the catalogue key; for a drug outside the catalogue, the text entered"},
        "drug_name": STR, "catalogued": BOOL,
        "stop_days": nullable(INT), "stop_hours": nullable(INT), "restart_hours": nullable(INT),
        "interval_source": STR,
        "last_dose_on": nullable({**DATE, "description": "day-based holds: the last day the patient takes it"}),
        **times("last_dose_at", "restart_at"),
        "prescriber_name": STR, "prescriber_phone": STR,
        "clearance": enum(CLEARANCE_STATUSES), "clearance_by": nullable(STR), "clearance_at": nullable(INSTANT),
        "clearance_note": nullable(STR), "signed": BOOL, "signed_at": nullable(INSTANT),
        "signed_by_id": nullable(ID), "inr_required": BOOL,
        "inr_value": nullable({**STR, "description": "decimal, e.g. \"1.10\""}), "inr_at": nullable(INSTANT),
    }),
    "Appointment": answer_object("The follow-up visit or the physical-therapy start.", {
        "id": ID, "episode_id": ID, "kind": enum(("follow_up", "pt_start")),
        "status": enum(("booked", "done", "missed", "cancelled")), **times("appointment_at", required=True),
    }),
    "Message": answer_object("A text to the patient: its schedule and state (never its body).", {
        "id": ID, "kind": enum(MESSAGE_KINDS), "label": STR, "status": enum(MESSAGE_STATUSES),
        "status_reason": nullable(STR), "milestone_id": nullable(ID),
        **times("send_at", required=True), **times("sent_at"),
    }),
    "CheckItem": answer_object("One line of the procedure-day go/no-go checklist.",
                               {"item": STR, "ok": BOOL, "detail": STR}),
    "Episode": {
        **answer_object("One MILD procedure with its timeline, holds, appointments and texts.", {
            "id": ID, "patient_id": ID, "status": enum(("scheduled", "completed", "cancelled")),
            "timezone": {**STR, "description": "the patient's zone, used for the *_local fields"},
            **times("procedure_at", required=True), **times("ended_at"),
            "duration_minutes": INT, "facility": STR, "proceduralist": STR, "levels": STR,
            "mri_reviewed_on": nullable(DATE), "tried_pt": BOOL, "tried_medication": BOOL,
            "tried_injections": BOOL, "escort_arranged": BOOL, "cancelled_at": nullable(INSTANT),
            "cancel_reason": nullable(STR), "created_at": INSTANT, "plan_revision": INT,
            "milestones": {"type": "array", "items": ref("Milestone")},
            "holds": {"type": "array", "items": ref("Hold")},
            "appointments": {"type": "array", "items": ref("Appointment")},
            "messages": {"type": "array", "items": ref("Message")},
            "checklist": {"type": "array", "items": ref("CheckItem")},
        }),
    },
    "EpisodeChanged": {
        "description": "The rescheduled episode, with `change`: what the move changed.",
        "allOf": [ref("Episode")],
        "required": ["change"],
    },
    "Span": {
        "type": "object",
        "properties": times("due_at", "window_start", "window_end"),
        "required": list(times("due_at", "window_start", "window_end")),
    },
    "DiffMessage": answer_object("A text a change cancels or adds.", {
        "kind": enum(MESSAGE_KINDS), "label": STR, **times("send_at", required=True),
    }),
    "DiffMilestone": answer_object("A step a change adds or drops.", {
        "kind": enum(MILESTONE_KINDS), "label": STR, "hold_ref": nullable(STR),
        **times("due_at", "window_start", "window_end"),
    }),
    "DroppedMilestone": answer_object("A step a change drops.", {
        "kind": enum(MILESTONE_KINDS), "label": STR, "hold_ref": nullable(STR), "status": enum(MILESTONE_STATUSES),
        **times("due_at", "window_start", "window_end"),
    }),
    "MovedMilestone": answer_object("A step a change moves.", {
        "kind": enum(MILESTONE_KINDS), "label": STR, "hold_ref": nullable(STR),
        "from": ref("Span"), "to": ref("Span"),
    }),
    "PlanDiff": answer_object(
        "What moving the procedure changes: texts cancelled and added, steps moved, added or dropped, "
        "the notice to the patient, and summary lines in the patient's local time.", {
            "applied": {**BOOL, "description": "false for ?preview=1: nothing was changed"},
            "episode_id": ID,
            **times("procedure_at_before", "procedure_at_after", required=True),
            "messages_cancelled": {"type": "array", "items": ref("DiffMessage")},
            "messages_added": {"type": "array", "items": ref("DiffMessage")},
            "milestones_moved": {"type": "array", "items": ref("MovedMilestone")},
            "milestones_added": {"type": "array", "items": ref("DiffMilestone")},
            "milestones_cancelled": {"type": "array", "items": ref("DroppedMilestone")},
            "notice": nullable(ref("DiffMessage")),
            "summary": {"type": "array", "items": STR},
        }),
    "WorklistItem": answer_object("Something a coordinator should do, most urgent first.", {
        "kind": STR, "priority": {**INT, "description": "lower is more urgent"}, "patient_id": ID,
        "episode_id": nullable(ID), "subject_id": nullable(INT), "title": STR, "detail": STR,
        "due_at": nullable(INSTANT), "action": STR,
        "task_id": {**nullable(ID), "description": "the open task behind this item, if any"},
        "patient_name": STR, "mrn": STR,
    }),
    "Worklist": answer_object("The coordinator's worklist.", {
        "items": {"type": "array", "items": ref("WorklistItem")}, "count": INT, "limit": INT,
    }),
    "BoardRow": answer_object("One episode on the follow-up board.", {
        "episode_id": ID, "patient_id": ID, "patient_name": STR, "mrn": STR, "proceduralist": STR,
        "procedure_at": INSTANT,
        "check_72h": enum(CHECK_72H_STATES), "follow_up": enum(FOLLOW_UP_STATES),
        "follow_up_at": nullable(INSTANT), "pt": enum(PT_STATES), "pt_at": nullable(INSTANT), "red_flag": BOOL,
        "timezone": {**nullable(STR), "description": "the patient's zone, used for the *_local fields"},
        "procedure_at_local": nullable(INSTANT), "follow_up_at_local": nullable(INSTANT),
        "pt_at_local": nullable(INSTANT),
    }),
    "FollowupBoard": answer_object("The follow-up board: a page of rows, counts per status, the total.", {
        "rows": {"type": "array", "items": ref("BoardRow")},
        "counts": {"type": "object", "additionalProperties": INT,
                   "description": "rows per state: " + ", ".join(COUNT_KEYS)},
        "total": INT, "limit": INT, "offset": INT, "status": nullable(STR), "proceduralist": nullable(STR),
    }),
}

# Only the answer to PATCH /episodes/{id} carries `change`; it is not required elsewhere.
SCHEMAS["Episode"]["properties"]["change"] = {**ref("PlanDiff"), "description": "only in the answer to PATCH"}

# --- responses and operations --------------------------------------------------------------

ERRORS = {
    "401": ("No token, or an unknown, revoked or deactivated one (see WWW-Authenticate).", "Error"),
    "403": ("Your role may not do this (admins manage users only; approvals need a clinician).", "Error"),
    "404": ("No such record.", "Error"),
    "409": ("The record's state forbids this (e.g. the episode is cancelled), or a record stored at the "
            "same moment by another request conflicts (reload and retry).", "Error"),
    "422": ("Bad input: every bad field is named in `errors`. Nothing was stored.", "ValidationError"),
}
RESPONSES: dict[str, Any] = {
    f"E{code}": {"description": text, "content": {"application/json": {"schema": ref(schema)}}}
    for code, (text, schema) in ERRORS.items()
}
RESPONSES["E401"]["headers"] = {"WWW-Authenticate": {"schema": STR, "description": "Bearer realm=\"pathway\"…"}}
RESPONSES["Default"] = {"description": "Any other error (405, 500): nothing was stored.",
                        "content": {"application/json": {"schema": ref("Error")}}}


def _json(schema: Schema, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def op(
    op_id: str,
    summary: str,
    ok: tuple[str, Schema, str],
    errors: tuple[str, ...],
    *,
    tag: str,
    body: str | None = None,
    body_required: bool = True,
    params: tuple[dict[str, Any], ...] = (),
    description: str = "",
) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": op_id, "summary": summary, "tags": [tag]}
    if description:
        out["description"] = description
    if params:
        out["parameters"] = list(params)
    if body:
        out["requestBody"] = {"required": body_required, "content": {"application/json": {"schema": ref(body)}}}
    status, schema, text = ok
    out["responses"] = {status: _json(schema, text)}
    if status == "201":
        out["responses"]["201"]["headers"] = {"Location": {"schema": STR, "description": "the new record's URL"}}
    for code in errors:
        out["responses"][code] = {"$ref": f"#/components/responses/E{code}"}
    out["responses"]["default"] = {"$ref": "#/components/responses/Default"}
    return out


def path_id(name: str, what: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": ID, "description": f"the {what}'s id"}


def query(name: str, schema: Schema, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


READ = ("401", "403", "404")
CHANGE = ("401", "403", "404", "409", "422")
LIMIT = query("limit", {**INT, "minimum": 1, "maximum": 500, "default": 200}, "rows to return")

PATHS: dict[str, Any] = {
    "/openapi.json": {
        "get": {"operationId": "openapi_document", "summary": "This document (no token needed).", "tags": ["meta"],
                "security": [], "responses": {"200": _json({"type": "object"}, "The OpenAPI 3.1 document."),
                                              "default": {"$ref": "#/components/responses/Default"}}},
    },
    "/patients": {
        "post": op("create_patient", "Enrol a patient; with consent, queue the enrolment text.",
                   ("201", ref("Patient"), "The patient, with `id`."), ("401", "403", "409", "422"),
                   tag="patients", body="PatientInput"),
    },
    "/patients/{patient_id}": {
        "parameters": [path_id("patient_id", "patient")],
        "get": op("get_patient", "A patient and their episodes (audited).", ("200", ref("Patient"), "The patient."),
                  READ, tag="patients"),
    },
    "/patients/{patient_id}/episodes": {
        "parameters": [path_id("patient_id", "patient")],
        "post": op("create_episode", "Schedule a MILD episode with its holds; plans the timeline and texts.",
                   ("201", ref("Episode"), "The episode with milestones, holds and texts."), CHANGE,
                   tag="episodes", body="EpisodeInput"),
    },
    "/episodes/{episode_id}": {
        "parameters": [path_id("episode_id", "episode")],
        "get": op("get_episode", "An episode with its timeline, holds, appointments and texts (audited).",
                  ("200", ref("Episode"), "The episode."), READ, tag="episodes"),
        "patch": op("reschedule_episode", "Move the procedure (re-plans texts and steps, notifies the patient).",
                    ("200", {"oneOf": [ref("EpisodeChanged"), ref("PlanDiff")]},
                     "Without preview: the episode with `change`. With ?preview=1: the PlanDiff alone."),
                    CHANGE, tag="episodes", body="RescheduleInput",
                    params=(query("preview", {"type": "string", "enum": ["1", "0", "true", "false", "yes", "no"]},
                                  "1: answer what would change, change nothing"),),
                    description="Only `procedure_at` may be sent; any other field is a 422."),
    },
    "/episodes/{episode_id}/cancel": {
        "parameters": [path_id("episode_id", "episode")],
        "post": op("cancel_episode", "Cancel the episode: pending texts are cancelled, the patient is told.",
                   ("200", ref("Episode"), "The cancelled episode."), CHANGE, tag="episodes",
                   body="CancelInput", body_required=False),
    },
    "/episodes/{episode_id}/procedure-end": {
        "parameters": [path_id("episode_id", "episode")],
        "post": op("procedure_end", "Record when the procedure ended; restarts are counted from it.",
                   ("200", ref("Episode"), "The completed episode."), CHANGE, tag="episodes",
                   body="ProcedureEndInput"),
    },
    "/episodes/{episode_id}/follow-up": {
        "parameters": [path_id("episode_id", "episode")],
        "post": op("book_follow_up", "Book or move the clinic follow-up visit.",
                   ("200", ref("Episode"), "The episode with the appointment."), CHANGE, tag="episodes",
                   body="AppointmentInput"),
    },
    "/episodes/{episode_id}/pt-start": {
        "parameters": [path_id("episode_id", "episode")],
        "post": op("book_pt_start", "Book or move the physical-therapy start.",
                   ("200", ref("Episode"), "The episode with the appointment."), CHANGE, tag="episodes",
                   body="AppointmentInput"),
    },
    "/holds/{hold_id}/clearance": {
        "parameters": [path_id("hold_id", "hold")],
        "post": op("record_clearance", "Record the prescriber's clearance of a hold.",
                   ("200", ref("Hold"), "The hold."), CHANGE, tag="holds", body="ClearanceInput"),
    },
    "/milestones/{milestone_id}/complete": {
        "parameters": [path_id("milestone_id", "milestone")],
        "post": op("complete_milestone", "Mark a step done, with an optional result.",
                   ("200", ref("Milestone"), "The milestone."), CHANGE, tag="milestones",
                   body="MilestoneCompleteInput", body_required=False),
    },
    "/worklist": {
        "get": op("worklist", "The coordinator's worklist, most urgent first (audited).",
                  ("200", ref("Worklist"), "The items."), ("401", "403", "422"), tag="lists", params=(LIMIT,)),
    },
    "/followups": {
        "get": op("followups", "The follow-up board (audited).", ("200", ref("FollowupBoard"), "A page of rows."),
                  ("401", "403", "422"), tag="lists",
                  params=(query("status", enum(("all", *STATUS_FILTERS)), "only rows in this state, e.g. overdue"),
                          query("proceduralist", STR, "only this proceduralist's episodes"),
                          LIMIT, query("offset", {**INT, "minimum": 0, "default": 0}, "rows to skip"))),
    },
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "pathway API",
            "version": "1",
            "description": (
                "Care-pathway tracking around the MILD procedure. Authenticate with "
                "`Authorization: Bearer <token>` (`pathway token create --email ...`). Coordinators and "
                "clinicians see and change patients; admins manage users only and get 403 here. "
                "Every instant is ISO 8601 with an offset (UTC); timeline instants also come as "
                "`<name>_local` with the patient's own offset. Fields may be added, never renamed."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "tags": [{"name": n} for n in ("patients", "episodes", "holds", "milestones", "lists", "meta")],
        "paths": PATHS,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "an API token from `pathway token create`"}},
            "schemas": SCHEMAS,
            "responses": RESPONSES,
        },
    }


@bp.get("/openapi.json")
def openapi_document() -> Response:
    return jsonify(document())
