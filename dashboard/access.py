"""Who may see a node's private pages: its operator, and admins (staff); nobody else.

Another operator's node, a member, and an unknown address all look the same
(not found), so the pages do not reveal which addresses have accounts.
"""

from __future__ import annotations

from functools import wraps
from typing import Any, Protocol

from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.http.response import HttpResponseBase
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect
from eth_utils import is_address, to_checksum_address

from dashboard.models import Operator
from livepeer_ai.gateway.models import Orchestrator
from livepeer_ai.htmx import HtmxHttpRequest


def known_node(address: str) -> str | None:
    """The checksummed address if it is an orchestrator's or an operator's, else None."""
    if not is_address(address):
        return None
    address = to_checksum_address(address)
    if (
        Orchestrator.objects.filter(address__iexact=address).exists()
        or Operator.objects.filter(address=address).exists()
    ):
        return address
    return None


def every_node() -> list[tuple[str, list[str]]]:
    """(address, service URIs) of every node an admin may open, by address: two queries."""
    nodes: dict[str, list[str]] = {}
    for address, uri in Orchestrator.objects.exclude(address="").values_list("address", "service_uri"):
        # Rows stored before /info was checked (node_info) may hold anything.
        if is_address(address):
            nodes.setdefault(to_checksum_address(address), []).append(uri)
    for address in Operator.objects.values_list("address", flat=True):
        nodes.setdefault(address, [])
    return sorted(nodes.items())


def visible_node(user: Any, address: str) -> str | None:
    """The node's checksummed address if `user` may see its private pages, else None."""
    if not getattr(user, "is_authenticated", False):
        return None
    if user.is_staff:
        return known_node(address)
    operator = Operator.of(user)
    if operator is None or not is_address(address) or operator.address != to_checksum_address(address):
        return None
    return operator.address


class NodeView(Protocol):
    def __call__(self, request: HtmxHttpRequest, address: str) -> HttpResponseBase: ...


def node_page(view: NodeView) -> NodeView:
    """Anonymous visitors go to the sign-in page; anyone else without rights gets 404.

    The view receives the node's checksummed address.
    """

    @wraps(view)
    def wrapper(request: HtmxHttpRequest, address: str) -> HttpResponseBase:
        if not request.user.is_authenticated:
            to_login = redirect_to_login(request.get_full_path(), reverse("dashboard-login"))
            if getattr(request, "htmx", False):
                return HttpResponseClientRedirect(to_login.url)
            return to_login
        node = visible_node(request.user, address)
        if node is None:
            raise Http404("No node of yours has that address.")
        return view(request, node)

    return wrapper
