"""Shared word lists from the programme's own research (see ../shared/seeds).

Stored as their keys; shown with their labels. Grants, stories and learning posts all tag with them.
"""

from __future__ import annotations

# The 18 values of co-production (seed 001).
VALUES: dict[str, str] = {
    "equality": "Equality and shifts in power",
    "diversity": "Diversity",
    "challenging": "Challenging and disruptive",
    "relationships": "Building relationships and unifying communities",
    "social_justice": "Working towards social justice",
    "learning": "Learning and personal development",
    "systemic_change": "Tackling challenging questions and creating systemic change",
    "accessibility": "Accessibility and inclusivity",
    "reciprocity": "Reciprocity and mutual benefit",
    "human": "Human, personal and bespoke",
    "transparent": "Transparent and authentic",
    "commitment": "Commitment, consistency and longevity",
    "flexibility": "Flexibility and adaptability",
    "respect": "Mutual respect and trust",
    "reflexivity": "Reflexivity",
    "training": "Training and capacity building",
    "action": "Action-orientated",
    "context": "Context-based",
}

# The five things the value of co-production lies in (seed 000).
THEMES: dict[str, str] = {
    "outcomes": "Delivering outcomes that actually matter to people",
    "efficiency": "Efficiency, in the long run",
    "social_justice": "Working towards social justice",
    "empowering": "Empowering people and building capacity",
    "connecting": "Connecting us as humans, working towards shared goals",
}

# The four stages where people with lived experience share power.
STAGES: dict[str, str] = {
    "co_design": "Co-design: shaping what the work is and how it is done",
    "co_decision": "Co-decision-making: sharing the decisions",
    "co_delivery": "Co-delivery: doing the work together",
    "co_evaluation": "Co-evaluation: judging together what difference it made",
}


def labels(vocabulary: dict[str, str], keys: list[str] | None) -> list[str]:
    return [vocabulary[key] for key in (keys or []) if key in vocabulary]
