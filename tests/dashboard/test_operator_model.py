from __future__ import annotations

import pytest

from dashboard.models import Operator


@pytest.mark.django_db
def test_an_address_gets_one_operator_whatever_its_letter_case():
    address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    first = Operator.for_address(address.lower())
    again = Operator.for_address(address)
    assert first.pk == again.pk
    assert first.address == address
    assert not first.user.has_usable_password()
    assert first.user.username == f"operator:{address}"


@pytest.mark.django_db
def test_only_operators_have_an_operator_record(personas):
    from django.contrib.auth.models import AnonymousUser

    assert Operator.of(personas.operator).address == personas.operator_address
    assert Operator.of(personas.other_operator).address != personas.operator_address
    assert Operator.of(personas.member) is None
    assert Operator.of(personas.admin) is None
    assert Operator.of(AnonymousUser()) is None
