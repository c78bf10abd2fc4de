"""Ward policy packs: versioned data describing how a ward runs citizen collaboration."""

from shared.policy.errors import PolicyError, UnknownPolicyCodeError, UnknownWardError
from shared.policy.fiscal import fiscal_year, fiscal_year_bounds
from shared.policy.lgcode import is_valid_lg_code, lg_check_digit
from shared.policy.loader import (
    builtin_wards,
    canonical_json,
    load_builtin_pack,
    pack_hash,
    parse_pack,
)
from shared.policy.lookup import (
    form_domain,
    get_activity_field,
    get_actor_kind,
    get_exclusion,
    get_form,
    get_principle,
    get_programme,
    is_collaboration_domain,
    is_default,
)
from shared.policy.model import SIDE_SUPPORT, Domain, FormDomain, PolicyPack

__all__ = [
    "SIDE_SUPPORT",
    "Domain",
    "FormDomain",
    "PolicyError",
    "PolicyPack",
    "UnknownPolicyCodeError",
    "UnknownWardError",
    "builtin_wards",
    "canonical_json",
    "fiscal_year",
    "fiscal_year_bounds",
    "form_domain",
    "get_activity_field",
    "get_actor_kind",
    "get_exclusion",
    "get_form",
    "get_principle",
    "get_programme",
    "is_collaboration_domain",
    "is_default",
    "is_valid_lg_code",
    "lg_check_digit",
    "load_builtin_pack",
    "pack_hash",
    "parse_pack",
]
