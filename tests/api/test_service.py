"""The service's answers: results after durability, idempotency, limits, overload,
reason-coded errors, the catch-all, ISO 20022, maker-checker, and the mode checks."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from interbank.api.app import create_app
from interbank.api.service import Service
from interbank.api.settings import (
    DevTokens,
    ServiceSettings,
    SettingsError,
    TlsSettings,
    check_mode,
)
from interbank.iso20022 import build
from interbank.node import verify

from .conftest import ACCOUNT_A, ACCOUNT_B, AS, BANK_A, BANK_B, FUNDS_A_MINOR, make_service


def transfer(amount_minor: int = 100, **extra: object) -> dict[str, object]:
    return {"id": str(uuid.uuid4()), "debit_account_id": ACCOUNT_A,
            "credit_account_id": ACCOUNT_B, "amount_minor": amount_minor, **extra}  # fmt: skip


def balance(client: TestClient, account_id: int, who: str) -> int:
    return int(client.get(f"/v1/accounts/{account_id}", headers=AS[who]).json()["balance_minor"])


def test_a_transfer_is_durable_when_answered_and_idempotent(
    service: Service, client: TestClient
) -> None:
    body = transfer(2_500, amount=None)
    del body["amount"]
    first = client.post("/v1/transfers", json=body, headers=AS["bank-a"])
    assert first.status_code == 200 and first.json()["status"] == "ACSC"
    head = service.node.head.seq
    assert service.node.head.timestamp_ns == first.json()["timestamp_ns"]
    again = client.post("/v1/transfers", json=body, headers=AS["bank-a"])
    assert again.json()["replayed"] is True and again.json()["status"] == "ACSC"
    other = client.post("/v1/transfers", json={**body, "amount_minor": 1}, headers=AS["bank-a"])
    assert other.json()["status"] == "RJCT" and other.json()["code"] == "DUPL"
    assert balance(client, ACCOUNT_A, "bank-a") == FUNDS_A_MINOR - 2_500
    assert service.node.head.seq >= head
    short = client.post("/v1/transfers", json=transfer(10**12), headers=AS["bank-a"])
    assert (short.status_code, short.json()["code"]) == (200, "AM04")


def test_decimal_amounts_and_currency_claims(client: TestClient) -> None:
    body = transfer()
    del body["amount_minor"]
    ok = client.post("/v1/transfers", json={**body, "amount": "1.50", "currency": "CNY"},
                     headers=AS["bank-a"])  # fmt: skip
    assert ok.json()["status"] == "ACSC"
    wrong = client.post(
        "/v1/transfers", json={**transfer(), "id": str(uuid.uuid4()), "currency": "USD"},
        headers=AS["bank-a"],
    )  # fmt: skip
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "AM03"
    floats = client.post(
        "/v1/transfers", content=b'{"id": 5, "debit_account_id": 601, "credit_account_id": 701,'
        b' "amount_minor": 1.5}', headers={**AS["bank-a"], "Content-Type": "application/json"},
    )  # fmt: skip
    assert floats.status_code == 422
    assert floats.json()["error"]["field"] == "amount_minor"


def test_bad_bodies_are_reason_coded_json(client: TestClient) -> None:
    cases = [
        b"not json",
        b"[1, 2]",
        b'{"id": 1, "id": 2}',
        b'{"id": NaN}',
        b"\xff\xfe",
        b'{"id": 1, "debit_account_id": 601, "credit_account_id": 701, "amount_minor": 1, "x": 1}',
        b"[" * 100_000,
    ]
    for body in cases:
        headers = {**AS["bank-a"], "Content-Type": "application/json"}
        answer = client.post("/v1/transfers", content=body, headers=headers)
        assert answer.status_code == 422, body[:40]
        error = answer.json()["error"]
        assert error["code"] == "FF01" and error["text"]
        assert "Traceback" not in answer.text


def test_batches_keep_chains_whole_and_refuse_open_chains(client: TestClient) -> None:
    linked = [{"type": "transfer", **transfer(100, linked=True)},
              {"type": "transfer", **transfer(10**12)}]  # fmt: skip
    answer = client.post("/v1/batches", json={"commands": linked}, headers=AS["bank-a"])
    statuses = [r["status"] for r in answer.json()["results"]]
    assert statuses == ["RJCT", "RJCT"]  # the second failed: the first is undone
    open_chain = [{"type": "transfer", **transfer(1, linked=True)}]
    refused = client.post("/v1/batches", json={"commands": open_chain}, headers=AS["bank-a"])
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "linked"
    mixed = [{"type": "transfer", **transfer()}, {"type": "transfer", "id": 3}]
    bad = client.post("/v1/batches", json={"commands": mixed}, headers=AS["bank-a"])
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["line"] == 2
    assert balance(client, ACCOUNT_A, "bank-a") == FUNDS_A_MINOR  # nothing applied


def test_limits_body_batch_rate(tmp_path: Path) -> None:
    settings = ServiceSettings(
        json_body_bytes_max=2048, batch_commands_max=3, inflight_commands_max=64,
        participant_requests_per_s=1, participant_burst_requests=3,
    )  # fmt: skip
    service = make_service(tmp_path, settings)
    try:
        with TestClient(create_app(service), raise_server_exceptions=False) as client:
            headers = {**AS["bank-b"], "Content-Type": "application/json"}
            big = client.post("/v1/transfers", content=b"{" + b" " * 4096 + b"}", headers=headers)
            assert big.status_code == 413 and big.json()["error"]["code"] == "FF01"
            batch = {"commands": [{"type": "transfer", **transfer()} for _ in range(4)]}
            over = client.post("/v1/batches", json=batch, headers=AS["bank-b"])
            assert over.status_code == 422 and over.json()["error"]["code"] == "AM02"
            third = client.get("/v1/accounts", headers=AS["bank-b"])
            assert third.status_code == 200
            limited = client.get("/v1/accounts", headers=AS["bank-b"])
            assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
            # Another participant has its own allowance.
            assert client.get("/v1/accounts", headers=AS["bank-a"]).status_code == 200
    finally:
        service.close()


def test_overload_is_429_with_retry_after_not_a_queue(tmp_path: Path) -> None:
    settings = ServiceSettings(batch_commands_max=4, inflight_commands_max=4)
    service = make_service(tmp_path, settings)
    try:
        with TestClient(create_app(service), raise_server_exceptions=False) as client:
            answers: list[int] = []
            # Accounts are looked up once (quiesced) and then remembered: look them up now,
            # so that only the commit waits for the writer below.
            warm = client.post("/v1/transfers", json=transfer(1), headers=AS["bank-a"])
            assert warm.status_code == 200
            release, held = threading.Event(), threading.Event()

            def hold_the_writer() -> None:
                with service.node.quiesced():
                    held.set()
                    release.wait(10)

            holder = threading.Thread(target=hold_the_writer)
            holder.start()
            assert held.wait(10)

            def send() -> None:
                answer = client.post("/v1/transfers", json=transfer(1), headers=AS["bank-a"])
                answers.append(answer.status_code)

            senders = [threading.Thread(target=send) for _ in range(8)]
            for sender in senders:
                sender.start()
            deadline = time.monotonic() + 10
            while answers.count(429) < 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            release.set()
            holder.join()
            for sender in senders:
                sender.join()
            assert sorted(answers) == [200] * 4 + [429] * 4
    finally:
        service.close()


def test_the_catch_all_answers_503_with_a_reason_and_logs(
    service: Service, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    service.read_now = broken  # type: ignore[method-assign]
    with caplog.at_level("ERROR", logger="interbank.api"):
        answer = client.get(f"/v1/accounts/{ACCOUNT_A}", headers=AS["bank-a"])
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    error = answer.json()["error"]
    assert error["code"] == "NARR" and answer.headers["X-Incident"] in error["text"]
    assert "a bug" not in answer.text and "Traceback" not in answer.text
    assert any(answer.headers["X-Incident"] in r.getMessage() for r in caplog.records)


def test_unknown_routes_and_methods_are_json(client: TestClient) -> None:
    assert client.get("/v2/nothing").json()["error"]["code"] == "NARR"
    wrong = client.delete("/v1/transfers", headers=AS["bank-a"])
    assert wrong.status_code == 405 and wrong.json()["error"]["status"] == 405
    bad_query = client.get(f"/v1/accounts/{ACCOUNT_A}/history?limit=0", headers=AS["bank-a"])
    assert bad_query.status_code == 422 and bad_query.json()["error"]["code"] == "FF01"


def test_iso_message_answers_pacs002_and_refuses_forged_senders(client: TestClient) -> None:
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    uetr = str(uuid.uuid4())
    payment = build.Payment(uetr, "E2E-1", "12.00", "CNY", BANK_A, BANK_B)
    message = build.credit_transfer(sender=BANK_A, message_id="M-1", created=created,
                                    payments=[payment])  # fmt: skip
    xml = {"Content-Type": "application/xml"}
    answer = client.post("/v1/iso20022/messages", content=message, headers={**AS["bank-a"], **xml})
    assert answer.status_code == 200 and b"<TxSts>ACSC</TxSts>" in answer.content
    assert answer.headers["X-Interbank-Message"] == "pacs.002"
    forged = client.post("/v1/iso20022/messages", content=message, headers={**AS["bank-b"], **xml})
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "AG01"
    garbage = client.post("/v1/iso20022/messages", content=b"<x>", headers={**AS["bank-a"], **xml})
    assert garbage.status_code == 400 and garbage.headers["X-Interbank-Message"] == "admi.002"
    tracked = client.get(f"/v1/payments/{uetr}", headers=AS["bank-b"]).json()
    assert [s["event"] for s in tracked["steps"]][-1] == "settled"
    notice = client.get(f"/v1/payments/{uetr}/camt054", headers=AS["bank-b"])
    assert notice.status_code == 200 and b"CRDT" in notice.content
    day = dt.datetime.now(dt.UTC).date()
    statement = client.get(f"/v1/accounts/{ACCOUNT_A}/camt053?date={day}", headers=AS["bank-a"])
    assert statement.status_code == 200 and b"camt.053" in statement.content


def test_history_pages_and_filters(client: TestClient) -> None:
    for _ in range(5):
        client.post("/v1/transfers", json=transfer(10), headers=AS["bank-a"])
    seen: list[int] = []
    cursor = None
    while True:
        url = f"/v1/accounts/{ACCOUNT_A}/history?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=AS["bank-a"]).json()
        seen.extend(e["amount_minor"] for e in page["entries"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [FUNDS_A_MINOR] + [-10] * 5
    debits = client.get(f"/v1/accounts/{ACCOUNT_A}/history?direction=debit", headers=AS["bank-a"])
    assert [e["kind"] for e in debits.json()["entries"]] == ["transfer"] * 5


def test_queue_why_and_management(client: TestClient) -> None:
    big = transfer(10**10)
    waiting = client.post("/v1/payments", json=big, headers=AS["bank-a"]).json()
    assert waiting["status"] == "PDNG"
    queue = client.get(f"/v1/accounts/{ACCOUNT_A}/queue", headers=AS["bank-a"]).json()
    assert queue["waiting"][0]["reason"] == "AM04" and queue["waiting"][0]["uetr"] == big["id"]
    moved = client.post(f"/v1/payments/{big['id']}/priority", json={"id": 90, "priority": "high"},
                        headers=AS["bank-a"])  # fmt: skip
    assert moved.json()["status"] == "ACSC"
    cancel = client.post(f"/v1/payments/{big['id']}/cancel", json={"id": 91}, headers=AS["bank-a"])
    assert cancel.json()["status"] == "ACSC"
    assert client.get(f"/v1/accounts/{ACCOUNT_A}/queue", headers=AS["bank-a"]).json()["count"] == 0
    steps = client.get(f"/v1/payments/{big['id']}", headers=AS["bank-a"]).json()["steps"]
    assert steps[-1]["event"] == "cancelled"


def test_maker_checker_and_every_step_journaled(service: Service, client: TestClient) -> None:
    proposal = client.post(
        "/v1/operator/proposals", headers=AS["op-alice"],
        json={"type": "set_credit_line", "id": 700, "account_id": ACCOUNT_B,
              "credit_line_minor": 5000},
    ).json()  # fmt: skip
    assert proposal["status"] == "pending"
    same = client.post(f"/v1/operator/proposals/{proposal['proposal_id']}/approve",
                       headers=AS["op-alice"])  # fmt: skip
    assert same.status_code == 403
    approved = client.post(f"/v1/operator/proposals/{proposal['proposal_id']}/approve",
                           headers=AS["op-bob"]).json()  # fmt: skip
    assert approved["status"] == "approved" and approved["result"]["status"] == "ACSC"
    twice = client.post(f"/v1/operator/proposals/{proposal['proposal_id']}/approve",
                        headers=AS["op-bob"])  # fmt: skip
    assert twice.status_code == 409
    account = client.get(f"/v1/accounts/{ACCOUNT_B}", headers=AS["bank-b"]).json()
    assert account["credit_line_minor"] == 5000
    # The proposal and the decision records are in the journal, with their exact bytes here.
    for sha in (approved["record_sha256"], approved["decision_sha256"]):
        assert service.views.journaled(sha) is not None
        assert service.approvals.record(sha) is not None
    day = client.post("/v1/operator/end-of-day", json={"id": 701, "currency": "CNY"},
                      headers=AS["op-alice"])  # fmt: skip
    assert day.json()["status"] == "ACSC"
    listing = client.get("/v1/operator/proposals?status=approved", headers=AS["auditor"]).json()
    assert [p["proposal_id"] for p in listing["proposals"]] == [proposal["proposal_id"]]


def test_central_bank_issues_only_its_currency(client: TestClient) -> None:
    issued = client.post("/v1/central-bank/issue", headers=AS["central"],
                         json={"id": 800, "account_id": ACCOUNT_B, "amount": "5.00",
                               "currency": "CNY"})  # fmt: skip
    assert issued.json()["status"] == "ACSC"
    assert balance(client, ACCOUNT_B, "bank-b") == 500


def test_health_ready_docs_and_openapi(service: Service, client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["ready"] is True and ready["journal_head_seq"] == service.node.head.seq
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in docs.text
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    document = client.get("/openapi.json").json()
    assert "/v1/iso20022/messages" in document["paths"]


def test_development_tokens_never_with_production(tmp_path: Path) -> None:
    dev = DevTokens(tmp_path / "tokens.json")
    tls = TlsSettings(tmp_path / "pki")
    check_mode(None, dev, "net.db", "127.0.0.1", production=False)
    for args in (
        (tls, dev, "net.db", "127.0.0.1", False),
        (None, dev, "postgresql://db/x", "127.0.0.1", False),
        (None, dev, "net.db", "0.0.0.0", False),
        (None, dev, "net.db", "127.0.0.1", True),
        (None, None, "net.db", "127.0.0.1", False),
    ):
        with pytest.raises(SettingsError):
            check_mode(*args)  # type: ignore[arg-type]
    check_mode(tls, None, "postgresql://db/x", "0.0.0.0", production=True)


def test_journal_verifies_after_service_traffic(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        for _ in range(3):
            client.post("/v1/transfers", json=transfer(), headers=AS["bank-a"])
    service.close()
    assert verify(str(tmp_path / "net.db")).ok


def test_the_plain_transfer_reader_agrees_with_command_json() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from interbank import command_json
    from interbank.api.participant import _plain_transfer

    values = st.one_of(
        st.integers(-2, 2**130), st.booleans(), st.none(), st.text(max_size=3),
        st.just(2**63 - 1), st.just(2**128 - 1), st.just(10**17),
    )  # fmt: skip
    fields = ("id", "debit_account_id", "credit_account_id", "amount_minor")

    @given(st.fixed_dictionaries({name: values for name in fields}),
           st.sampled_from(["transfer", "hold", 5]))  # fmt: skip
    @settings(max_examples=400, deadline=None)
    def agree(value: dict[str, object], type_name: object) -> None:
        body = {"type": type_name, **value}
        fast = _plain_transfer(body)
        try:
            slow = command_json.parse_command(body)
        except command_json.CommandJsonError:
            slow = None
        if fast is not None:  # whatever the fast reader takes, the general one takes alike
            assert slow is not None and slow.command == fast.command
            assert slow.id_json == fast.id_json and slow.claims == fast.claims

    agree()


def test_plain_transfer_batches_take_the_columnar_path_with_the_same_answers(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from interbank.api import participant

    columnar: list[int] = []
    original = participant.Batch.of_transfers

    def spy(*args: object, **kwargs: object) -> object:
        columnar.append(len(args[1]))  # type: ignore[arg-type]
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(participant.Batch, "of_transfers", staticmethod(spy))

    def plain(command_id: int, amount_minor: int, credit: int = ACCOUNT_B) -> dict[str, object]:
        return {"type": "transfer", "id": command_id, "debit_account_id": ACCOUNT_A,
                "credit_account_id": credit, "amount_minor": amount_minor}  # fmt: skip

    rows = [plain(9_001, 100), plain(9_002, 10**12), plain(9_003, 5, credit=999_999)]
    answer = client.post("/v1/batches", json={"commands": rows}, headers=AS["bank-a"])
    assert answer.status_code == 200 and columnar == [3]
    results = answer.json()["results"]
    assert [(r["line"], r["id"], r["status"], r["code"], r["replayed"]) for r in results] == [
        (1, 9_001, "ACSC", None, False), (2, 9_002, "RJCT", "AM04", False),
        (3, 9_003, "RJCT", "AC01", False),
    ]  # fmt: skip
    assert len({r["timestamp_ns"] for r in results}) == 1
    # The same rows through the general path (one row not plain) answer the same words.
    general = client.post(
        "/v1/batches", json={"commands": [*rows, {**plain(9_004, 1), "linked": False}]},
        headers=AS["bank-a"],
    )  # fmt: skip
    assert columnar == [3]
    again = general.json()["results"]
    for first, second in zip(results, again[:3], strict=True):
        assert {**first, "replayed": True, "timestamp_ns": 0} == {**second, "timestamp_ns": 0}
    assert balance(client, ACCOUNT_A, "bank-a") == FUNDS_A_MINOR - 101
    # Refusals stay whole and reason-coded: another's account, a duplicate key.
    theirs = {**plain(9_010, 1), "debit_account_id": ACCOUNT_B, "credit_account_id": ACCOUNT_A}
    refused = client.post("/v1/batches", json={"commands": [plain(9_011, 1), theirs]},
                          headers=AS["bank-a"])  # fmt: skip
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "AG01"
    duplicate = (
        b'{"commands": [{"type": "transfer", "id": 9020, "id": 9021, '
        b'"debit_account_id": 601, "credit_account_id": 701, "amount_minor": 1}]}'
    )
    bad = client.post("/v1/batches", content=duplicate,
                      headers={**AS["bank-a"], "Content-Type": "application/json"})  # fmt: skip
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "FF01"
    assert balance(client, ACCOUNT_A, "bank-a") == FUNDS_A_MINOR - 101
