"""Hypothesis search: propose rules, score them on seen examples, select, apply."""

from redistill.search.types import (
    Application,
    ApplyRequest,
    Hypothesis,
    RuleFollower,
    RuleProposer,
    ScoredRule,
)

__all__ = ["Application", "ApplyRequest", "Hypothesis", "RuleFollower", "RuleProposer", "ScoredRule"]
