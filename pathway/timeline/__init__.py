"""Pure domain rules for the MILD pathway.

Standard library only (plus `pathway.resources` to find the shipped data and templates), no
clock reads: `now` is always a parameter, every datetime crossing the API is aware, and every
instant returned is aware UTC. Services combine these decisions with the database.
"""

from pathway.timeline.catalogue import (
    AmbiguousDrug,
    Catalogue,
    CatalogueError,
    DrugDefault,
    UnknownDrug,
    load_catalogue,
    normalise_key,
    rule_text,
)
from pathway.timeline.definition import (
    MESSAGE_KINDS,
    MILESTONE_KINDS,
    NOTICE_KINDS,
    PLANNED_MESSAGE_KINDS,
    DefinitionError,
    MilestoneKind,
    PathwayDefinition,
    SendRule,
    load_definition,
)
from pathway.timeline.diff import (
    MESSAGE_STATUSES,
    MILESTONE_STATUSES,
    PlanDiff,
    StoredMessage,
    StoredMilestone,
    diff_plan,
)
from pathway.timeline.holds import HoldDates, HoldPlanInput, compute_hold
from pathway.timeline.localtime import (
    UTC,
    AmbiguousLocalTime,
    LocalTimeError,
    NonexistentLocalTime,
    add_local_days,
    at_local,
    local_date,
    parse_local_strict,
)
from pathway.timeline.plan import (
    CLEARANCE_STATUSES,
    EPISODE_STATUSES,
    EpisodeFacts,
    HoldFacts,
    Plan,
    PlannedMessage,
    PlannedMilestone,
    plan_episode,
)
from pathway.timeline.quiet import QuietHours
from pathway.timeline.texts import (
    SegmentInfo,
    TemplateError,
    TemplateSet,
    format_date,
    format_time,
    format_when,
    segments,
    text_context,
)

__all__ = [
    "CLEARANCE_STATUSES",
    "EPISODE_STATUSES",
    "MESSAGE_KINDS",
    "MESSAGE_STATUSES",
    "MILESTONE_KINDS",
    "MILESTONE_STATUSES",
    "NOTICE_KINDS",
    "PLANNED_MESSAGE_KINDS",
    "UTC",
    "AmbiguousDrug",
    "AmbiguousLocalTime",
    "Catalogue",
    "CatalogueError",
    "DefinitionError",
    "DrugDefault",
    "EpisodeFacts",
    "HoldDates",
    "HoldFacts",
    "HoldPlanInput",
    "LocalTimeError",
    "MilestoneKind",
    "NonexistentLocalTime",
    "PathwayDefinition",
    "Plan",
    "PlanDiff",
    "PlannedMessage",
    "PlannedMilestone",
    "QuietHours",
    "SegmentInfo",
    "SendRule",
    "StoredMessage",
    "StoredMilestone",
    "TemplateError",
    "TemplateSet",
    "UnknownDrug",
    "add_local_days",
    "at_local",
    "compute_hold",
    "diff_plan",
    "format_date",
    "format_time",
    "format_when",
    "load_catalogue",
    "load_definition",
    "local_date",
    "normalise_key",
    "parse_local_strict",
    "plan_episode",
    "rule_text",
    "segments",
    "text_context",
]
