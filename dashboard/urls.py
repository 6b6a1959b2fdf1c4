from __future__ import annotations

from django.urls import path

from dashboard.views import network, node, signin

urlpatterns = [
    path("dashboard/", node.index, name="dashboard-index"),
    path("dashboard/login/", signin.login, name="dashboard-login"),
    path("dashboard/login/message/", signin.login_message, name="dashboard-login-message"),
    path("dashboard/login/link/", signin.login_link, name="dashboard-login-link"),
    path("dashboard/logout/", signin.logout, name="dashboard-logout"),
    path("dashboard/nodes/<str:address>/", node.node, name="dashboard-node"),
    path("dashboard/nodes/<str:address>/tickets/", node.tickets, name="dashboard-tickets"),
    path("dashboard/nodes/<str:address>/tickets.csv", node.tickets_csv, name="dashboard-tickets-csv"),
    path("network/", network.network, name="network-overview"),
    path("network/costs/", network.costs, name="network-costs"),
]
