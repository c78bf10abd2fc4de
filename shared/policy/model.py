"""A ward's policy pack: the versioned data every service reads to apply a ward's policy.

Provenance: ``documents`` lists what the pack was written from; every object with a
``source`` cites one of them (``"<document id> <section>"``, several joined by ``"; "``).
``defaults`` lists the paths (see :mod:`shared.policy.provenance`) whose values the
documents do not give and were chosen for the platform. An object whose ``source`` is
null must be covered by a default path, so every value is either cited or marked.

Money is integer yen and shares are integer basis points; a pack never holds a float.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any, Literal, Self, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

from shared.policy.lgcode import is_valid_lg_code
from shared.policy.provenance import is_covered, resolve, sourced_objects

BASIS_POINTS_WHOLE = 10_000
MAX_YEN = 10**12

Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
WardCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$", max_length=32)]
DocumentId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$", max_length=64)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
Source = Annotated[str, StringConstraints(min_length=1, max_length=300)]
DefaultPath = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9_*-]+(\.[A-Za-z0-9_*-]+)*$", max_length=200)
]
PositiveInt = Annotated[int, Field(strict=True, gt=0)]
Yen = Annotated[int, Field(strict=True, gt=0, le=MAX_YEN)]
BasisPoints = Annotated[int, Field(strict=True, ge=0, le=BASIS_POINTS_WHOLE)]
Year = Annotated[int, Field(strict=True, ge=1868, le=9999)]


def _check_lg_code(value: str) -> str:
    if not is_valid_lg_code(value):
        raise ValueError(
            f"{value!r} is not a 全国地方公共団体コード (6 digits, last is a check digit)"
        )
    return value


LgCode = Annotated[str, AfterValidator(_check_lg_code)]


class Domain(StrEnum):
    """協働事業の領域 (Nerima's table A–E). Only B, C and D are collaboration."""

    A = "A"  # 区民が主体的に活動する領域
    B = "B"  # 区民が主導し、区が支援する領域
    C = "C"  # 区民と区がそれぞれの主体性の下に連携、協力して実施する領域
    D = "D"  # 区が主導し、区民の参加を得ながら行う領域
    E = "E"  # 区主体で区の責任によって行う領域


COLLABORATION_DOMAINS = frozenset({Domain.B, Domain.C, Domain.D})
SIDE_SUPPORT: Literal["side"] = "side"
FormDomain: TypeAlias = Domain | Literal["side"]


class DocumentKind(StrEnum):
    POLICY = "policy"  # the ward's own policy document
    PROGRAMME = "programme"  # the ward's published programme information
    LAW = "law"
    REFERENCE = "reference"  # another body's document adopted as a model


class FormHost(StrEnum):
    ACTOR = "actor"
    WARD = "ward"


class Designation(StrEnum):
    GENERAL = "general"
    FIELD = "field"
    ACTOR = "actor"
    PROJECT = "project"


class AllocationRule(StrEnum):
    MOST_SPECIFIC_THEN_OLDEST = "most_specific_first_then_oldest"


class EvaluationTiming(StrEnum):
    FISCAL_YEAR_END = "fiscal_year_end"
    PROJECT_END = "project_end"


class ThirdPartyReview(StrEnum):
    NONE = "none"
    OPTIONAL = "optional"
    REQUIRED = "required"


class Partnership(StrEnum):
    ACTOR = "actor"
    ACTOR_AND_WARD = "actor_and_ward"
    ACTORS_TOGETHER = "actors_together"


class Funding(StrEnum):
    FUND = "fund"  # paid from the ward's citizen-activity fund (donations)
    WARD_BUDGET = "ward_budget"


class AmountBasis(StrEnum):
    PER_PROJECT = "per_project"
    PER_YEAR = "per_year"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Labelled(_Frozen):
    code: Code
    ja: Text
    en: Text
    source: Source | None = None


class Names(_Frozen):
    ja: Text
    en: Text


class SourceDocument(_Frozen):
    id: DocumentId
    kind: DocumentKind
    ja: Text
    en: Text
    issuer_ja: Text
    year: Year
    url: Text | None = None


class ActorKind(Labelled):
    corporate_number_required: StrictBool
    is_ward: StrictBool


class ActivityField(Labelled):
    pass


class DomainDefinition(_Frozen):
    domain: Domain
    ja: Text
    en: Text
    source: Source | None = None


class CollaborationForm(Labelled):
    domain: FormDomain
    host: FormHost | None

    @model_validator(mode="after")
    def _collaboration_domain_only(self) -> Self:
        if self.domain not in COLLABORATION_DOMAINS and self.domain != SIDE_SUPPORT:
            raise ValueError(
                f"form {self.code!r}: domain {self.domain} is not collaboration; "
                "a collaboration form lies in domain B, C or D, or is side support"
            )
        return self

    @property
    def is_side_support(self) -> bool:
        return self.domain == SIDE_SUPPORT


class Principle(Labelled):
    description_ja: Text


class RubricItem(Labelled):
    description_ja: Text | None
    weight: PositiveInt
    max_score: PositiveInt


class ScreeningStage(Labelled):
    pass


class Screening(_Frozen):
    reviewer_body: Names | None
    rubric: tuple[RubricItem, ...] = Field(min_length=1)
    min_counted_reviews: PositiveInt
    stages: tuple[ScreeningStage, ...] = Field(min_length=1)
    source: Source | None = None

    @property
    def max_weighted_score(self) -> int:
        return sum(item.weight * item.max_score for item in self.rubric)


class Exclusion(Labelled):
    pass


class DesignationKind(_Frozen):
    code: Designation
    ja: Text
    en: Text
    source: Source | None = None


class FundRules(_Frozen):
    name: Names
    designation_kinds: tuple[DesignationKind, ...] = Field(min_length=1)
    allocation_rule: AllocationRule
    specificity_order: tuple[Designation, ...]
    min_donation_yen: Yen
    max_donation_yen: Yen
    fiscal_year_start_month: Literal[4]
    source: Source | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        kinds = [kind.code for kind in self.designation_kinds]
        _require_unique("designation kind", kinds)
        if sorted(self.specificity_order) != sorted(kinds):
            raise ValueError("specificity_order must list each designation kind exactly once")
        if self.min_donation_yen > self.max_donation_yen:
            raise ValueError("min_donation_yen exceeds max_donation_yen")
        return self


class EvaluationItem(Labelled):
    basis: Code | None  # the principle or viewpoint this item scores, if any


class Evaluation(_Frozen):
    items: tuple[EvaluationItem, ...] = Field(min_length=1)
    scale_min: Annotated[int, Field(strict=True, ge=0)]
    scale_max: PositiveInt
    divergence_threshold: PositiveInt
    schedule: tuple[EvaluationTiming, ...] = Field(min_length=1)
    third_party_review: ThirdPartyReview
    source: Source | None = None

    @model_validator(mode="after")
    def _scale(self) -> Self:
        if self.scale_min >= self.scale_max:
            raise ValueError("scale_min must be below scale_max")
        if self.divergence_threshold > self.scale_max - self.scale_min:
            raise ValueError("divergence_threshold exceeds the width of the scale")
        _require_unique("evaluation timing", self.schedule)
        return self


class Limits(_Frozen):
    max_consecutive_years: PositiveInt
    max_grants_same_actor_same_purpose: PositiveInt
    max_years_per_term: PositiveInt
    source: Source | None = None


class Reservation(_Frozen):
    actor_kind: Code
    places: PositiveInt


class Programme(Labelled):
    series: Names | None
    partnership: Partnership
    funding: Funding
    allowed_forms: tuple[Code, ...] = Field(min_length=1)
    max_years: PositiveInt
    max_amount_yen: Yen
    amount_basis: AmountBasis
    expected_projects: PositiveInt | None
    ward_officer_per_project: StrictBool
    reserved_places: tuple[Reservation, ...]


class DomainShare(_Frozen):
    domain: Domain
    share_bp: BasisPoints


class DomainBaseline(_Frozen):
    survey_fiscal_year: Year
    shares: tuple[DomainShare, ...]
    goal_domain: Domain
    source: Source | None = None

    @model_validator(mode="after")
    def _shares(self) -> Self:
        domains = [share.domain for share in self.shares]
        _require_unique("baseline domain", domains)
        if set(domains) != COLLABORATION_DOMAINS:
            raise ValueError("the baseline gives one share for each of domains B, C and D")
        if sum(share.share_bp for share in self.shares) != BASIS_POINTS_WHOLE:
            raise ValueError("baseline shares must add up to 10000 basis points")
        if self.goal_domain not in COLLABORATION_DOMAINS:
            raise ValueError("goal_domain must be a collaboration domain")
        return self


class PolicyPack(_Frozen):
    schema_version: Literal[1]
    ward: WardCode
    version: PositiveInt
    name: Names
    lg_code: LgCode
    policy_title: Names
    documents: tuple[SourceDocument, ...] = Field(min_length=1)
    actor_kinds: tuple[ActorKind, ...] = Field(min_length=1)
    fields: tuple[ActivityField, ...] = Field(min_length=1)
    domains: tuple[DomainDefinition, ...]
    forms: tuple[CollaborationForm, ...] = Field(min_length=1)
    principles: tuple[Principle, ...] = Field(min_length=1)
    viewpoints: tuple[Principle, ...]
    screening: Screening
    exclusions: tuple[Exclusion, ...]
    fund: FundRules
    evaluation: Evaluation
    limits: Limits
    programmes: tuple[Programme, ...]
    domain_baseline: DomainBaseline | None
    defaults: tuple[DefaultPath, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        self._check_codes()
        self._check_references()
        self._check_domains()
        self._check_provenance()
        return self

    def _check_codes(self) -> None:
        _require_unique("document", (d.id for d in self.documents))
        _require_unique("actor kind", (k.code for k in self.actor_kinds))
        _require_unique("activity field", (f.code for f in self.fields))
        _require_unique("form", (f.code for f in self.forms))
        _require_unique("principle or viewpoint", (p.code for p in self.all_principles))
        _require_unique("rubric item", (r.code for r in self.screening.rubric))
        _require_unique("screening stage", (s.code for s in self.screening.stages))
        _require_unique("exclusion", (e.code for e in self.exclusions))
        _require_unique("evaluation item", (i.code for i in self.evaluation.items))
        _require_unique("programme", (p.code for p in self.programmes))
        _require_unique("default path", self.defaults)
        if sum(kind.is_ward for kind in self.actor_kinds) > 1:
            raise ValueError("at most one actor kind may be the ward itself")

    def _check_references(self) -> None:
        principles = {p.code for p in self.all_principles}
        for item in self.evaluation.items:
            if item.basis is not None and item.basis not in principles:
                raise ValueError(f"evaluation item {item.code!r}: unknown basis {item.basis!r}")
        forms = {f.code for f in self.forms}
        kinds = {k.code for k in self.actor_kinds}
        for programme in self.programmes:
            _require_unique(f"{programme.code} form", programme.allowed_forms)
            _require_unique(
                f"{programme.code} reservation", (r.actor_kind for r in programme.reserved_places)
            )
            if unknown := set(programme.allowed_forms) - forms:
                raise ValueError(f"programme {programme.code!r}: unknown forms {sorted(unknown)}")
            if unknown := {r.actor_kind for r in programme.reserved_places} - kinds:
                raise ValueError(
                    f"programme {programme.code!r}: unknown actor kinds {sorted(unknown)}"
                )
            if programme.max_years > self.limits.max_years_per_term:
                raise ValueError(f"programme {programme.code!r} runs longer than the term limit")

    def _check_domains(self) -> None:
        defined = [d.domain for d in self.domains]
        _require_unique("domain", defined)
        if set(defined) != set(Domain):
            raise ValueError("domains must define each of A, B, C, D and E once")

    def _check_provenance(self) -> None:
        document = self.model_dump(mode="json")
        for path in self.defaults:
            resolve(document, path)
        known = {d.id for d in self.documents}
        for path, source in sourced_objects(document):
            if source is None:
                if not is_covered(self.defaults, path):
                    raise ValueError(f"{path} has no source and is not marked as a default")
                continue
            for citation in source.split("; "):
                if citation.split(" ", 1)[0] not in known:
                    raise ValueError(f"{path}: source {citation!r} cites no listed document")

    @property
    def all_principles(self) -> tuple[Principle, ...]:
        return self.principles + self.viewpoints


def _require_unique(what: str, values: Iterable[Any]) -> None:
    repeated = sorted(str(v) for v, n in Counter(values).items() if n > 1)
    if repeated:
        raise ValueError(f"repeated {what}: {', '.join(repeated)}")
