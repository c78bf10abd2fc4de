"""A call's ranking: exact averages of counted reviews, ties sharing a rank, unreviewed last."""

from __future__ import annotations

from services.proposals.proposal import Proposal
from services.proposals.views import ranking
from tests.unit.proposals.support import open_call, review, reviewed, submitted


def scored(proposal_id: str, *scores: int) -> Proposal:
    history = submitted()
    for index, score in enumerate(scores):
        reviewed(history, review(f"r{index}", score=score))
    state = history.state
    assert state is not None
    return state.model_copy(update={"proposal_id": proposal_id})


def test_proposals_rank_by_their_exact_average_weighted_score() -> None:
    # Averages 14 × (4, 4), 14 × (3, 5), 14 × 13/3 and none: (3, 5) ties with (4, 4).
    proposals = [
        scored("unreviewed"),
        scored("steady", 4, 4),
        scored("split", 3, 5),
        scored("best", 4, 4, 5),
    ]
    view = ranking(open_call(), proposals)
    assert [(e.proposal_id, e.rank) for e in view.entries] == [
        ("best", 1),
        ("split", 2),
        ("steady", 2),
        ("unreviewed", 4),
    ]
    best = view.entries[0]
    assert best.counted_reviews == 3 and best.weighted_score_sum == 14 * 13
    assert best.average_weighted_score == 60.67
    assert view.entries[-1].average_weighted_score is None
    assert view.max_weighted_total == 14 * 5
