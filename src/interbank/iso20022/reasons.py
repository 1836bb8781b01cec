"""Rejections: an ISO 20022 reason code, a plain-language text, and where it was found.

The codes are ExternalStatusReason1Code values (pacs.002, and the reason text of an
admi.002), chosen for what each check finds:

  FF01 the bytes are not an ISO 20022 message the network takes (size, safety, type)
  FF02 not well-formed XML
  CH21 a mandatory element is missing
  CH16 an element's content is formally incorrect (type, length, pattern, code)
  CH17 an element that is not allowed here
  CH20 more decimals than the currency has
  AM01/AM02/AM03/AM12 zero, too large, currency not allowed, not an amount
  AM09 a return for more than the original payment
  AM18 the number of transactions does not match the message
  RC01 a BIC that is not a valid ISO 9362 identifier, or not a participant
  AGNT the agent is not the sender (or not the network)
  AG03 a settlement method or message use the network does not offer
  AG13 a return that the original payment does not allow
  DT01 a date that is not a business date the network can settle on
  DU01 the sender already used this message id for another message
  DUPL the transaction's UETR was already used for another payment
  AC01 the agent has no settlement account in the currency
"""

from __future__ import annotations

from dataclasses import dataclass

REASON_TEXT_LENGTH_MAX = 350  # admi.002 RsnDesc is Max350Text


@dataclass(frozen=True, slots=True)
class Rejection:
    """One reason a message or a transaction is refused."""

    code: str
    text: str
    location: str = ""

    def __post_init__(self) -> None:
        assert len(self.code) == 4 and self.code.isalnum(), self.code

    def short_text(self, length_max: int = REASON_TEXT_LENGTH_MAX) -> str:
        return self.text if len(self.text) <= length_max else self.text[: length_max - 1] + "…"


class MessageRejected(Exception):
    """Raised inside the reader when the message as a whole cannot be taken."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(f"{rejection.code}: {rejection.text}")
        self.rejection = rejection
