"""A payee reference that looks like bank details is refused next to the field; nothing is kept."""

from __future__ import annotations

import html
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from portal.core.audit import AuditEntry
from portal.core.extensions import db
from portal.remuneration.models import PaymentPreference
from portal.remuneration.payees import looks_like_bank_details
from tests.test_remuneration_claimant_pages import error_for
from tests.test_remuneration_staff_pages import client_for

BANK_DETAILS = [
    "12-34-56 12345678",
    "123456 12345678",
    "sort code 12 34 56 acc 1234 5678",
    "12 34 56 / 1234 5678",
    "SC 123456 AC 12345678",
    "12345612345678",
    "GB29 NWBK 6016 1331 9268 19",
]
ORDINARY = ["SUP-0042", "INV-2026-000123", "VOUCHER-LM-01", "PO 2026/11/02", "CUST 1234567", "A/C holder ref 77"]


@pytest.mark.parametrize("reference", BANK_DETAILS)
def test_a_reference_shaped_like_bank_details_is_refused_by_the_field(
    app: Flask, users: dict[str, Any], reference: str
) -> None:
    finance = client_for(app, users["finance"])
    response = finance.post(f"/finance/payees/{users['member'].id}", data={"payee_reference": reference})
    assert response.status_code == 422
    message = html.unescape(error_for(response.get_data(as_text=True), "payee_reference"))
    assert "looks like bank details" in message and "never keeps bank details" in message
    assert db.session.get(PaymentPreference, users["member"].id) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0


@pytest.mark.parametrize("reference", ORDINARY)
def test_an_ordinary_reference_still_passes(app: Flask, users: dict[str, Any], reference: str) -> None:
    assert not looks_like_bank_details(reference)
    finance = client_for(app, users["finance"])
    response = finance.post(f"/finance/payees/{users['member'].id}", data={"payee_reference": reference})
    assert response.status_code == 303
    assert db.session.get(PaymentPreference, users["member"].id).payee_reference == reference
