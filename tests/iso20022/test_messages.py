"""Own messages: every builder's output is schema-valid and reads back; safety limits;
the structural check without schemas; usage rules with their reason codes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from interbank.iso20022 import IsoSettings, Validator, build
from interbank.iso20022.model import CreditTransferMessage

from .conftest import BANK_A, BANK_B, new_uetr

TODAY = dt.date(2026, 11, 28)
CREATED = "2026-11-28T10:00:00Z"


def pacs008(payments: list[build.Payment] | None = None, **kw: object) -> bytes:
    payments = payments or [build.Payment(new_uetr(), "E2E-1", "10.00", "CNY", BANK_A, BANK_B)]
    return build.credit_transfer(
        sender=BANK_A, message_id="MSG-1", created=CREATED, payments=payments, **kw
    )  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def strict(schemas_dir: Path) -> Validator:
    return Validator(IsoSettings(schemas_dir=schemas_dir))


def outbound_messages() -> list[bytes]:
    status = build.TransactionStatus("RJCT", new_uetr(), "E2E", reason="AM04", text="funds")
    return [
        build.pacs002(
            network_bic="IBNKCHZZ",
            to_bic=BANK_A,
            message_id="S1",
            created=CREATED,
            original_message_id="M1",
            original_definition="pacs.008.001.08",
            transactions=[status],
            group_status="RJCT",
        ),
        build.admi002(
            network_bic="IBNKCHZZ",
            to_bic=BANK_A,
            message_id="A1",
            created=CREATED,
            reference="M1",
            reason="FF02",
            text="not well-formed <&>",
            location="/x",
        ),
        build.camt029(
            sender_bic="IBNKCHZZ",
            to_bic=BANK_A,
            message_id="R1",
            created=CREATED,
            case_id="C1",
            case_creator=BANK_A,
            confirmation="CNCL",
            transactions=[
                build.CancellationStatus("ACCR", new_uetr(), "E2E", "X1", "M1", "pacs.008.001.08")
            ],
        ),
        build.camt053(
            network_bic="IBNKCHZZ",
            to_bic=BANK_A,
            message_id="ST1",
            created=CREATED,
            account_id=601,
            currency="CNY",
            date="2026-11-28",
            opening_minor=100,
            closing_minor=-50,
            entries=[
                build.StatementEntry(
                    -150, CREATED.replace("Z", ".000Z"), "ref", new_uetr(), "E2E", "payment"
                )
            ],
        ),
        build.camt054(
            network_bic="IBNKCHZZ",
            to_bic=BANK_A,
            message_id="N1",
            created=CREATED,
            account_id=601,
            currency="JPY",
            entries=[build.StatementEntry(5, CREATED, "ref", None, None, "issue")],
        ),
    ]


def inbound_messages() -> list[bytes]:
    uetr = new_uetr()
    return [
        pacs008(),
        pacs008(definition="pacs.008.001.07"),
        build.credit_transfer(
            sender=BANK_A,
            message_id="M9",
            created=CREATED,
            definition="pacs.009.001.08",
            payments=[build.Payment(uetr, "E", "1", "JPY", BANK_A, BANK_B)],
        ),
        build.payment_return(
            sender=BANK_B,
            message_id="R1",
            created=CREATED,
            returns=[build.Return(uetr, "1.00", "CNY", BANK_A, "RET1", "E2E", "M1")],
        ),
        build.cancellation_request(
            sender=BANK_A,
            assignee="IBNKCHZZ",
            message_id="C1",
            created=CREATED,
            cancellations=[build.Cancellation(uetr, "X1", "E2E", "M1")],
        ),
    ]


def test_every_built_message_is_schema_valid(strict: Validator) -> None:
    for data in outbound_messages() + inbound_messages():
        verdict = strict.check(data)
        assert verdict.valid, (data[:400], verdict.rejections)
        assert "schema" in verdict.checks


def test_round_trip_multi_transaction_non_ascii_largest_amount(strict: Validator) -> None:
    payments = [
        build.Payment(
            new_uetr(),
            f"E2E-{n}",
            "9999999999999.99999" if n == 0 else f"{n}.50",
            "CNY",
            BANK_A,
            BANK_B,
            debtor_name="Zhāng Wěi 张伟",
            creditor_name="Ørsted & <Søn>",
        )
        for n in range(25)
    ]
    verdict = strict.check(pacs008(payments), usage_rules=True, today=TODAY)
    message = verdict.message
    assert isinstance(message, CreditTransferMessage)
    assert [t.uetr for t in message.transactions] == [p.uetr for p in payments]
    assert message.transactions[0].amount.text == "9999999999999.99999"
    assert message.transactions[1].debtor_name == "Zhāng Wěi 张伟"
    assert message.transactions[1].creditor_name == "Ørsted & <Søn>"
    # The largest amount the schema allows is more decimals than CNY has: CH20.
    assert verdict.transaction_rejections[0].code == "CH20"
    assert set(verdict.transaction_rejections) == {0}


@pytest.mark.parametrize(
    ("payment", "code"),
    [
        (build.Payment("not-a-uuid", "E", "1.00", "CNY", BANK_A, BANK_B), "CH16"),
        (build.Payment(new_uetr(), "E", "1.001", "CNY", BANK_A, BANK_B), "CH20"),
        (build.Payment(new_uetr(), "E", "0", "CNY", BANK_A, BANK_B), "AM01"),
        (build.Payment(new_uetr(), "E", "1.00", "XYZ", BANK_A, BANK_B), "AM03"),
        (build.Payment(new_uetr(), "E", "1000000000000000.01", "CNY", BANK_A, BANK_B), "AM02"),
        (build.Payment(new_uetr(), "E", "1.00", "CNY", BANK_A, "ZZZZXX11"), "RC01"),
        (build.Payment(new_uetr(), "E", "1.00", "CNY", BANK_B, BANK_A), "AGNT"),
        (
            build.Payment(
                new_uetr(), "E", "1.00", "CNY", BANK_A, BANK_B, settlement_date="2020-01-01"
            ),
            "DT01",
        ),
    ],
)
def test_usage_rules_reason_codes(payment: build.Payment, code: str) -> None:
    validator = Validator(IsoSettings())  # structural check only
    verdict = validator.check(pacs008([payment]), usage_rules=True, today=TODAY)
    found = [*verdict.rejections, *verdict.transaction_rejections.values()]
    assert [r.code for r in found] == [code], found


def test_group_rules(strict: Validator) -> None:
    wrong_count = pacs008(number_of_transactions=2)
    assert strict.check(wrong_count, usage_rules=True, today=TODAY).rejections[0].code == "AM18"
    wrong_method = pacs008(settlement_method="INDA")
    assert strict.check(wrong_method, usage_rules=True, today=TODAY).rejections[0].code == "AG03"
    uetr = new_uetr()
    twice = pacs008(
        [
            build.Payment(uetr, "E1", "1.00", "CNY", BANK_A, BANK_B),
            build.Payment(uetr, "E2", "1.00", "CNY", BANK_A, BANK_B),
        ]
    )
    assert (
        strict.check(twice, usage_rules=True, today=TODAY).transaction_rejections[1].code == "DUPL"
    )


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><Document>&lol3;</Document>"""
EXTERNAL = b"""<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08">&x;</Document>"""
UTF16_DOCTYPE = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY x "y">]><Document/>'


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (BOMB, "FF01"),
        (EXTERNAL, "FF01"),
        (UTF16_DOCTYPE.encode("utf-16"), "FF01"),
        (b"<Document>" * 100 + b"</Document>" * 100, "FF01"),  # deeper than depth_max
        (b"<Document><unclosed></Document>", "FF02"),
        (b"", "FF02"),
        (b"\x00\xff\xfe garbage", "FF02"),
        (b"<foo><bar/></foo>", "FF01"),
        (b'<Document xmlns="urn:example"/>', "FF01"),
        (b" " * 2048 + b"<Document/>", "FF01"),  # over a 1 KiB limit below
    ],
)
def test_unsafe_or_unreadable_input_is_refused_with_a_code(data: bytes, code: str) -> None:
    limit = 2000 if data.startswith(b" " * 2048) else 1 << 20
    validator = Validator(IsoSettings(message_bytes_max=max(1024, limit)))
    verdict = validator.check(data)
    assert not verdict.valid
    assert verdict.rejections[0].code == code, verdict.rejections


def test_structural_check_without_schemas() -> None:
    validator = Validator(IsoSettings())
    data = pacs008().replace(b"<EndToEndId>E2E-1</EndToEndId>", b"")
    verdict = validator.check(data)
    assert verdict.rejections[0].code == "CH21"
    too_long = pacs008().replace(b"<MsgId>MSG-1</MsgId>", b"<MsgId>" + b"x" * 36 + b"</MsgId>")
    assert validator.check(too_long).rejections[0].code == "CH16"


def test_header_must_match_the_document(strict: Validator) -> None:
    data = pacs008().replace(b"<MsgDefIdr>pacs.008.001.08", b"<MsgDefIdr>pacs.009.001.08")
    assert strict.check(data).rejections[0].code == "FF01"
