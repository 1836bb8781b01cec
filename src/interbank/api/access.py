"""Who may do what: the one place the service decides, every refusal logged.

Roles (named by the client certificate, checked by ``pki``):

- participant: debits only its own accounts, reads only its own data;
- central bank: a participant, and issues and redeems its one currency;
- operator: proposes and approves administrative changes (two different holders),
  runs end of day, reads everything; debits nothing;
- auditor: reads everything, changes nothing.

Each check raises ``ApiError`` 403 (AG01) and writes one line to the access log
(``interbank.api.access``) naming the caller, the route and why.
"""

from __future__ import annotations

from interbank.api.errors import ApiError
from interbank.api.identity import Identity, Role
from interbank.api.service import AccountInfo, refusal

PAYING = frozenset({Role.PARTICIPANT, Role.CENTRAL_BANK})
READING_ALL = frozenset({Role.OPERATOR, Role.AUDITOR})
EVERYONE = frozenset(Role)


def refuse(identity: Identity, route: str, text: str) -> ApiError:
    refusal(identity, route, 403, text)
    return ApiError(403, "AG01", text)


def require_role(identity: Identity, route: str, allowed: frozenset[Role]) -> None:
    if identity.role not in allowed:
        names = ", ".join(sorted(role.value for role in allowed))
        raise refuse(identity, route, f"a {identity.role.value} may not do this (only: {names})")


def may_read_everything(identity: Identity) -> bool:
    return identity.role in READING_ALL


def require_account_read(identity: Identity, route: str, account: AccountInfo) -> None:
    if account.bic != identity.bic and not may_read_everything(identity):
        raise refuse(identity, route, f"account {account.account_id} is not yours")


def require_account_debit(identity: Identity, route: str, account: AccountInfo) -> None:
    """Only the owner debits an account, whatever its role; never an operator or auditor."""
    require_role(identity, route, PAYING)
    if account.bic != identity.bic:
        raise refuse(identity, route, f"account {account.account_id} is not yours to debit")


def require_bic_read(identity: Identity, route: str, bic: str) -> None:
    if bic != identity.bic and not may_read_everything(identity):
        raise refuse(identity, route, f"the data of {bic} is not yours")
