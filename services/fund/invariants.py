"""The fund's invariants, checked on a book: what must hold at every moment, per ward.

- no account of any lot is below zero;
- per lot, per designation and for the ward: fund = available + held + committed + paid + refunded,
  and the ward's fund equals the donations received;
- a grant is funded only by lots whose designation matches it, and every yen allocated to it is
  still committed, paid, returned or given up.
"""

from __future__ import annotations

from services.fund.book import FundBook
from services.fund.designations import Designation
from services.fund.ledger import WHERE_MONEY_IS, Account


def violations(book: FundBook) -> list[str]:
    return _lot_violations(book) + _ward_violations(book) + _grant_violations(book)


def _lot_violations(book: FundBook) -> list[str]:
    found = []
    for (donation_id, designation), lot in book.lots.items():
        negative = [account.value for account, value in lot.balance.items() if value < 0]
        if negative:
            found.append(f"lot {donation_id}/{designation}: below zero on {', '.join(negative)}")
        where = sum(lot.balance[account] for account in WHERE_MONEY_IS)
        if lot.balance[Account.FUND] != where:
            found.append(
                f"lot {donation_id}/{designation}: fund {lot.balance[Account.FUND]} != {where}"
            )
    return found


def _ward_violations(book: FundBook) -> list[str]:
    found = []
    by_designation: dict[str, dict[Account, int]] = {}
    for lot in book.lots.values():
        pool = by_designation.setdefault(lot.designation.key, dict.fromkeys(Account, 0))
        for account, value in lot.balance.items():
            pool[account] += value
    for designation, pool in sorted(by_designation.items()):
        where = sum(pool[account] for account in WHERE_MONEY_IS)
        if pool[Account.FUND] != where:
            found.append(f"pool {designation}: fund {pool[Account.FUND]} != {where}")
    received = book.received()
    if book.total(Account.FUND) != received:
        found.append(f"ward: fund {book.total(Account.FUND)} != donations received {received}")
    return found


def _grant_violations(book: FundBook) -> list[str]:
    found = []
    for grant in book.grants.values():
        allocated = 0
        for line in grant.lines.values():
            allocated += line.allocated
            if not grant.purpose.accepts(Designation.parse(line.designation)):
                found.append(f"grant {grant.grant_id}: funded by unmatched {line.designation}")
            accounted = line.committed + line.paid + line.returned + line.given_up
            if accounted != line.allocated or min(line.committed, line.paid) < 0:
                found.append(f"grant {grant.grant_id}: line {line.key} does not add up")
        if allocated != grant.amount_yen:
            found.append(f"grant {grant.grant_id}: {allocated} allocated of {grant.amount_yen}")
    return found
