"""The ``pathway`` command: database, users, tokens, the web server, the worker and the demo."""

from __future__ import annotations

import dataclasses
import sys
from datetime import datetime, time
from pathlib import Path
from typing import Any

import click

from pathway.config import ConfigError, load_config
from pathway.services.base import Actor, ServiceError, ValidationError
from pathway.timeline.vocabulary import Role


def _config(database: str | None = None):  # type: ignore[no-untyped-def]
    try:
        overrides = {"database": {"url": database}} if database else None
        return load_config(overrides=overrides)
    except ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from None


def _runtime(database: str | None = None):  # type: ignore[no-untyped-def]
    from pathway.runtime import Runtime

    return Runtime.build(_config(database))


def _fail(exc: ServiceError) -> click.ClickException:
    if isinstance(exc, ValidationError):
        return click.ClickException("; ".join(f"{k}: {v}" for k, v in exc.errors.items()))
    return click.ClickException(str(exc))


CLI_ACTOR = Actor(role=Role.ADMIN, label="cli")


@click.group()
def main() -> None:
    """pathway: the MILD care pathway tracker."""


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the database to the latest schema."""
    from pathway import migrate

    cfg = _config()
    migrate.upgrade(cfg.database.url, revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.option("--revision", required=True)
def db_downgrade(revision: str) -> None:
    from pathway import migrate

    migrate.downgrade(_config().database.url, revision)
    click.echo(f"database at {revision}")


@db.command("check")
def db_check() -> None:
    """Fail if the database schema differs from the models."""
    from pathway import migrate

    migrate.check(_config().database.url)
    click.echo("schema matches the models")


@main.group()
def user() -> None:
    """Staff accounts."""


def _read_password() -> str:
    if sys.stdin is not None and not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@user.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--name", default="")
def user_create(email: str, role: str, name: str) -> None:
    """Create a user; the password is read from standard input or asked for."""
    from pathway.services.users import create_user

    rt = _runtime()
    password = _read_password()
    try:
        with rt.unit_of_work() as (session, env):
            u = create_user(session, env, CLI_ACTOR, email, role, password, name)
            uid = u.id
    except ServiceError as exc:
        raise _fail(exc) from None
    click.echo(f"created user {uid} ({role})", err=True)


def _user_id(session, email: str) -> int:  # type: ignore[no-untyped-def]
    from pathway.services.base import NotFound
    from pathway.services.users import find_user

    found = find_user(session, email)
    if found is None:
        raise NotFound(f"user {email}")
    return found.id


@user.command("set-password")
@click.option("--email", required=True)
def user_set_password(email: str) -> None:
    """Set a user's password (read from standard input or asked for); their sessions end."""
    from pathway.services.users import set_password

    rt = _runtime()
    password = _read_password()
    try:
        with rt.unit_of_work() as (session, env):
            set_password(session, env, CLI_ACTOR, _user_id(session, email), password)
    except ServiceError as exc:
        raise _fail(exc) from None
    finally:
        rt.engine.dispose()
    click.echo(f"password set for {email}; their sessions have ended", err=True)


@user.command("end-sessions")
@click.option("--email", required=True)
def user_end_sessions(email: str) -> None:
    """Sign a user out everywhere, at once (every session of theirs ends)."""
    from pathway.services.users import end_sessions

    rt = _runtime()
    try:
        with rt.unit_of_work() as (session, env):
            end_sessions(session, env, CLI_ACTOR, _user_id(session, email))
    except ServiceError as exc:
        raise _fail(exc) from None
    finally:
        rt.engine.dispose()
    click.echo(f"{email} is signed out everywhere", err=True)


@main.group()
def token() -> None:
    """API bearer tokens."""


_DATABASE_HELP = "Database URL (default from [database] url); the demo's is sqlite:///<dir>/instance/demo.db."


def _no_database(rt) -> click.ClickException:  # type: ignore[no-untyped-def]
    url = rt.engine.url.render_as_string(hide_password=True)
    demo_url = "sqlite:///" + str(Path.cwd() / "instance" / "demo.db")
    return click.ClickException(
        f"no pathway database at {url}: run `pathway db upgrade` to create it, "
        f"or, for the demo's, add --database {demo_url}"
    )


@token.command("create")
@click.option("--email", required=True, help="The account the token acts as.")
@click.option("--name", default="(unnamed)", show_default=True, help="What the token is for, e.g. \"EHR sync\".")
@click.option("--expires-in-days", type=int, default=None,
              help="Days until the token stops working (default [web] api_token_days, 90; at most 365).")
@click.option("--database", default=None, help=_DATABASE_HELP)
def token_create(email: str, name: str, expires_in_days: int | None, database: str | None) -> None:
    """Print a new API token for a user (only this once; it is stored hashed)."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from pathway.services.users import create_token

    rt = _runtime(database)
    try:
        with rt.unit_of_work() as (session, env):
            tok = create_token(session, env, CLI_ACTOR, email, name, expires_in_days,
                               default_days=rt.config.web.api_token_days)
    except ServiceError as exc:
        raise _fail(exc) from None
    except (OperationalError, ProgrammingError):
        raise _no_database(rt) from None
    finally:
        rt.engine.dispose()
    click.echo(tok)


@token.command("list")
@click.option("--database", default=None, help=_DATABASE_HELP)
def token_list(database: str | None) -> None:
    """List API tokens: id, state, name, account, prefix, created, expires, last used (never the secret)."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from pathway.services.users import list_tokens, token_state

    def day(value) -> str:  # type: ignore[no-untyped-def]
        return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "never"

    rt = _runtime(database)
    try:
        with rt.unit_of_work() as (session, env):
            rows = [(t.id, token_state(t, env.now), t.name, t.user.email, t.prefix, day(t.created_at),
                     day(t.expires_at), day(t.last_used_at)) for t in list_tokens(session, CLI_ACTOR)]
    except ServiceError as exc:
        raise _fail(exc) from None
    except (OperationalError, ProgrammingError):
        raise _no_database(rt) from None
    finally:
        rt.engine.dispose()
    if not rows:
        click.echo("no API tokens", err=True)
        return
    click.echo("\t".join(("id", "state", "name", "account", "prefix", "created", "expires", "last_used")))
    for row in rows:
        click.echo("\t".join(str(v) for v in row))


@token.command("revoke")
@click.argument("token_id", metavar="ID")
@click.option("--database", default=None, help=_DATABASE_HELP)
def token_revoke(token_id: str, database: str | None) -> None:
    """Revoke an API token now (its id from `pathway token list`): its next request answers 401."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from pathway.services.users import revoke_token

    rt = _runtime(database)
    try:
        with rt.unit_of_work() as (session, env):
            row = revoke_token(session, env, CLI_ACTOR, token_id)
            label = f"{row.id} ({row.name}, {row.user.email})"
    except ServiceError as exc:
        raise _fail(exc) from None
    except (OperationalError, ProgrammingError):
        raise _no_database(rt) from None
    finally:
        rt.engine.dispose()
    click.echo(f"token {label} is revoked", err=True)


@main.group()
def catalogue() -> None:
    """The medicine catalogue (data/anticoagulants.toml)."""


@catalogue.command("review")
@click.option("--by", "reviewed_by", default=None, metavar="NAME",
              help="The clinician who reviewed every row of the current catalogue version.")
def catalogue_review(reviewed_by: str | None) -> None:
    """Record that a clinician reviewed the current catalogue version (audited)."""
    from pathway.services.catalogue import record_review

    if not reviewed_by or not reviewed_by.strip():
        raise click.UsageError("name the clinician who reviewed the catalogue: pathway catalogue review --by NAME")
    rt = _runtime()
    try:
        with rt.unit_of_work() as (session, env):
            review = record_review(session, env, CLI_ACTOR, reviewed_by)
            version, at = review.version, review.reviewed_at
    except ServiceError as exc:
        raise _fail(exc) from None
    finally:
        rt.engine.dispose()
    click.echo(f"catalogue version {version} reviewed by {reviewed_by.strip()} at {at.isoformat()}")


@main.group("import")
def import_group() -> None:
    """Import from other systems (issue 14)."""


@import_group.command("schedule")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--by", "by_email", required=True, metavar="EMAIL",
              help="The coordinator or clinician importing (their account's email); audited as them.")
@click.option("--dry-run", is_flag=True, help="Check every row and report what would happen; store nothing.")
@click.option("--confirm-holds-at-risk", is_flag=True,
              help="Apply moves that break signed holds or come after a last dose (as confirmed on the "
                   "episode page: each such hold is unsigned and goes on the worklist). Without it, such a "
                   "row stops the import and nothing is stored.")
def import_schedule_command(file: Path, by_email: str, dry_run: bool, confirm_holds_at_risk: bool) -> None:
    """Import a CSV of patients and procedures (columns: see the README). Every row is checked
    first; if any is bad nothing is stored and the exit code is 1."""
    from pathway.services import schedule_import as si

    parsed = si.parse_file(file.read_bytes())
    rt = _runtime()
    bars: dict[str, Any] = {}

    def progress(stage: str, n: int) -> None:
        if stage not in bars:
            for bar in bars.values():
                bar.render_finish()
            label = {si.CHECKING: "Checking rows", si.STORING: "Checking and storing" if not dry_run
                     else "Trying each change"}.get(stage, stage)
            bars[stage] = click.progressbar(length=len(parsed.rows), label=label, file=sys.stderr,
                                            show_pos=True)
            bars[stage].__enter__()
        bars[stage].update(n)

    try:
        with rt.unit_of_work() as (session, env):
            actor = si.importer(session, by_email)
            report = si.import_schedule(session, env, actor, parsed, dry_run=dry_run,
                                        confirm_holds_at_risk=confirm_holds_at_risk, progress=progress)
    except ServiceError as exc:
        raise _fail(exc) from None
    finally:
        for bar in bars.values():
            bar.render_finish()
        rt.engine.dispose()
    for line in si.report_lines(report):
        click.echo(line)
    if not report.ok:
        sys.exit(1)


@main.group("export")
def export_group() -> None:
    """Export to other systems (issue 14)."""


@export_group.command("fhir")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the NDJSON files (created if missing). Each export replaces the <Type>.ndjson "
                   "files there as a whole, once it has finished.")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, metavar="DATE",
              help="Only episodes whose procedure is on or after DATE, or created or moved since (clinic's zone).")
def export_fhir(out_dir: Path, since: Any) -> None:
    """Write every episode as FHIR R4 Bulk Data NDJSON: one file per resource type (Patient.ndjson,
    CarePlan.ndjson, ...), one resource a line. Audited once (fhir.export)."""
    import json

    from pathway.services import fhir

    rt = _runtime()
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {}
    counts: dict[str, int] = {}
    done = False
    try:
        with rt.unit_of_work() as (session, env):
            start = None if since is None else since.date()
            after = None if start is None else datetime.combine(start, time(0), env.rules.clinic.tz)
            total = fhir.count_episodes(session, after)
            actor = Actor(role="system", label="cli:export-fhir")
            with click.progressbar(length=total, label="Exporting episodes", file=sys.stderr, show_pos=True) as bar:
                seen = 0
                for n, resource in fhir.export_resources(session, env, actor, after):
                    kind = resource["resourceType"]
                    if kind not in files:
                        files[kind] = (out_dir / f"{kind}.ndjson.part").open("w", encoding="utf-8")
                        counts[kind] = 0
                    files[kind].write(json.dumps(resource, separators=(",", ":"), ensure_ascii=False) + "\n")
                    counts[kind] += 1
                    if n > seen:
                        bar.update(n - seen)
                        seen = n
        done = True
    except ServiceError as exc:
        raise _fail(exc) from None
    finally:
        for fh in files.values():
            fh.close()
        rt.engine.dispose()
        # All or nothing: the new files replace the old ones only when the export finished, and a
        # type this export has none of leaves no stale file from an earlier one.
        for kind in fhir.RESOURCE_TYPES:
            part, final = out_dir / f"{kind}.ndjson.part", out_dir / f"{kind}.ndjson"
            if not done:
                part.unlink(missing_ok=True)
            elif kind in files:
                part.replace(final)
            else:
                final.unlink(missing_ok=True)
    for kind in fhir.RESOURCE_TYPES:
        if kind in counts:
            click.echo(f"{kind}.ndjson: {counts[kind]} resource(s)")
    click.echo(f"exported {sum(counts.values())} resource(s) to {out_dir}")


@main.group()
def audit() -> None:
    """The audit log (who saw or changed which patient's record, and refused attempts)."""


@audit.command("export")
@click.option("--from", "first", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="The first day to include (YYYY-MM-DD, the clinic's time zone).")
@click.option("--to", "last", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="The last day to include (YYYY-MM-DD, the clinic's time zone).")
@click.option("--out", "out_path", default=None, type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write the CSV to this file (default: standard output).")
def audit_export(first: datetime, last: datetime, out_path: Path | None) -> None:
    """Write the audit events of the days --from to --to (both included) as CSV, oldest first
    (the export is itself audited)."""
    from pathway.services.audit_export import export_csv

    rt = _runtime()
    try:
        with rt.unit_of_work() as (session, env):
            if out_path is None:
                result = export_csv(session, env, CLI_ACTOR, first.date(), last.date(), sys.stdout)
            else:
                # Written whole, then moved into place: a failed export leaves no half file.
                partial = out_path.with_name(out_path.name + ".partial")
                try:
                    with partial.open("w", encoding="utf-8", newline="") as fh:
                        result = export_csv(session, env, CLI_ACTOR, first.date(), last.date(), fh)
                    partial.replace(out_path)
                finally:
                    partial.unlink(missing_ok=True)
    except ServiceError as exc:
        raise _fail(exc) from None
    finally:
        rt.engine.dispose()
    where = f" to {out_path}" if out_path is not None else ""
    click.echo(f"{result.rows} audit event(s) from {first.date()} to {last.date()} exported{where}", err=True)


@main.command()
@click.option("--host", default=None, help="Interface to listen on (default from [web] host).")
@click.option("--port", default=None, type=int, help="Port (default from [web] port).")
@click.option("--threads", default=8, show_default=True)
def serve(host: str | None, port: int | None, threads: int) -> None:
    """Run the web app alone on a production WSGI server (waitress). No scheduler runs here."""
    from waitress import serve as waitress_serve

    from pathway.app import create_app

    cfg = _config()
    app = create_app(cfg)
    host = host or cfg.web.host
    port = port or cfg.web.port
    click.echo(f"pathway web on http://{host}:{port}/", err=True)
    waitress_serve(app, host=host, port=port, threads=threads, ident="pathway")


@main.command()
@click.option("--once", is_flag=True, help="Run one dispatch pass (and housekeeping) and exit.")
def worker(once: bool) -> None:
    """Send due texts: APScheduler ticks over the outbox table. Run one or more of these."""
    import logging

    from pathway.dispatch.worker import Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    rt = _runtime()
    w = Worker.build(rt.config, rt.sessions, rt.rules, rt.clock)
    if once:
        hk = w.housekeeping_tick()
        report, rec = w.dispatch_tick()
        w.dispatcher.close()
        click.echo(f"claimed {report.claimed}, sent {report.sent}, retry {report.retry}, unknown {report.unknown}, "
                   f"failed {report.failed}, not sent now {report.deferred_or_dropped}; reconciled: found {rec.found}, "
                   f"resend {rec.resend}; recovered leases {hk.recovered}")
        return
    w.run_forever()


@main.command()
@click.option("--database", default=None, help="Database URL (default: a fresh instance/demo.db).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Seed and print the timelines, then exit.")
def demo(database: str | None, host: str, port: int, no_serve: bool) -> None:
    """Create a demo clinic in SQLite, print its timelines, and serve it with the worker in-process."""
    from pathway import migrate
    from pathway.services.demo import DEMO_PASSWORD, print_timelines, seed_demo

    if database is None:
        path = Path.cwd() / "instance" / "demo.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        database = f"sqlite:///{path}"
    cfg = _config(database)
    # The demo's texts are made up, and a person watches them arrive: print their words.
    cfg = cfg.replace(sms=dataclasses.replace(cfg.sms, console_show_bodies=True))
    migrate.upgrade(cfg.database.url)
    from pathway.runtime import Runtime

    rt = Runtime.build(cfg)
    with rt.unit_of_work() as (session, env):
        logins = seed_demo(session, env)
    from pathway.dispatch.worker import Worker

    demo_worker = Worker.build(cfg, rt.sessions, rt.rules, rt.clock)
    demo_worker.housekeeping_tick()  # steps whose time has come show as due, not planned
    with rt.sessions() as session:
        print_timelines(session, rt.rules, click.echo)
    click.echo("")
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for email, role in logins:
        click.echo(f"  {role:<12} {email}")
    shown_url = rt.engine.url.render_as_string(hide_password=True)
    click.echo(f"Demo database: {shown_url}")
    click.echo(f"API token:     pathway token create --email {logins[0][0]} --database {shown_url}")
    if no_serve:
        return
    from waitress import serve as waitress_serve

    from pathway.app import create_app

    app = create_app(cfg, runtime=rt)
    # The demo's one scheduler, started here on purpose (waitress has no reloader to start it twice).
    scheduler = demo_worker.start_background()
    click.echo(f"\npathway demo on http://{host}:{port}/  (texts print below; Ctrl-C to stop)")
    try:
        waitress_serve(app, host=host, port=port, threads=8, ident="pathway")
    finally:
        scheduler.shutdown(wait=False)


if __name__ == "__main__":  # pragma: no cover
    main()
