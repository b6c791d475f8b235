"""Twilio webhooks: delivery status callbacks and patients' replies.

Both ask the configured SMS backend (:func:`pathway.sms.backend`) whether the provider signed the
request for the configured public URL (what it called, even behind a TLS-terminating proxy). Anything unsigned or
forged gets 403 and nothing is stored. CSRF does not apply: the signature is the check.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, request

from pathway.services.base import Actor
from pathway.services.delivery import apply_status_callback
from pathway.services.replies import receive_reply
from pathway.sms import Backend, backend
from pathway.web.context import audit_denied, client_addr, db, env, runtime

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
log = logging.getLogger("pathway.webhooks")


def _public_url() -> str:
    base = runtime().config.web.public_url.rstrip("/")
    query = request.query_string.decode()
    return base + request.path + (f"?{query}" if query else "")


def _forbidden() -> Response:
    audit_denied(Actor(role="anonymous", label="webhook:unsigned", remote_addr=client_addr()),
                 "not signed by the SMS provider")
    return Response("Forbidden: not signed by Twilio\n", status=403, mimetype="text/plain")


def _backend() -> Backend:
    config = runtime().config
    return backend(config.sms.backend, config.secrets.twilio_auth_token)


def _signed_params() -> dict[str, str] | None:
    """The POST params when the provider signed them for our public URL; None otherwise."""
    params = request.form.to_dict(flat=True)
    if not _backend().webhook_signed(_public_url(), params, dict(request.headers.items())):
        log.warning("webhook %s: rejected a request without a valid signature", request.path)
        return None
    # A signed text is the patient's: keep it whole rather than refuse it, but a NUL cannot be
    # stored (PostgreSQL refuses it in text), so it is shown as the replacement character.
    return {key: value.replace("\x00", "\ufffd") for key, value in params.items()}


@bp.post("/twilio/status")
def twilio_status() -> Any:
    params = _signed_params()
    if params is None:
        return _forbidden()
    session = db()
    report = _backend().read_status(params)
    result = apply_status_callback(session, env(), request.args.get("m"), sid=report.sid,
                                   provider_status=report.provider_status, status=report.status,
                                   error_code=report.error_code, bad_number=report.bad_number)
    session.commit()
    log.info("status callback for message %s: %s", result.message_id, "changed" if result.changed else "no change")
    return Response(status=204)


@bp.post("/twilio/inbound")
def twilio_inbound() -> Any:
    params = _signed_params()
    if params is None:
        return _forbidden()
    session = db()
    text = _backend().read_reply(params)
    result = receive_reply(session, env(), from_number=text.from_number, body=text.body, provider_id=text.sid)
    session.commit()
    log.info("reply %s classified %s", result.reply_id, result.classification)
    answer = _backend().answer(result.answer)
    return Response(answer.body, mimetype=answer.mimetype)
