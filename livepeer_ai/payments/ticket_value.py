"""What a ticket is worth, in integer wei: its face value, its win probability, how many to send.

The orchestrator prices its tickets so that redeeming a winner costs at most
1/multiplier of the winner's face value, and never asks for more than the
sender's deposit plus its share of the reserve can pay (`face_value`,
`win_probability`); the gateway sends enough tickets to cover a fee beyond
its credit (`tickets_to_send`). These are go-livepeer's rules and defaults.

Every amount is an int and every division floors or is a ceiling division of
ints: a float holds 53 bits, and wei amounts above 2^53 (about 0.009 ETH), or
2^256 / faceValue, would be rounded before the division.
"""

from __future__ import annotations

from livepeer_ai.payments.tickets import MAX_WIN_PROB

# go-livepeer's `-ticketEV` default: each ticket is worth 8 gwei in expectation.
DEFAULT_TICKET_EV = 8_000_000_000
# faceValue = max(txCost, EV) × 100: redemption costs at most 1 % of a winner.
TX_COST_MULTIPLIER = 100
# Gas of one redemption as go-livepeer assumes on an L2 (350,000 on L1); operators may set what they measure.
DEFAULT_REDEEM_GAS = 1_200_000


def ceil_div(numerator: int, denominator: int) -> int:
    """⌈numerator / denominator⌉ for ints, exactly, at any size."""
    return -(-numerator // denominator)


def tx_cost(redeem_gas: int, gas_price_wei: int) -> int:
    """What redeeming one winning ticket costs: txCost = redeemGas × gasPrice."""
    return redeem_gas * gas_price_wei


def uncapped_face_value(
    tx_cost_wei: int, ticket_ev: int = DEFAULT_TICKET_EV, multiplier: int = TX_COST_MULTIPLIER
) -> int:
    """max(txCost, EV) × multiplier, before any cap: a winner pays for its redemption `multiplier` times over."""
    return max(tx_cost_wei, ticket_ev) * multiplier


def sender_float(deposit: int, reserve: int, pool_size: int) -> int:
    """The most one winning ticket from this sender can be paid: its whole deposit, then this
    recipient's share of its reserve (the reserve is split evenly over the active set)."""
    return deposit + reserve // max(pool_size, 1)


def face_value(uncapped: int, float_wei: int, max_face_value: int | None = None) -> int:
    """The face value a recipient offers: the uncapped value, no more than the sender's float
    nor the operator's `max_face_value`."""
    capped = min(uncapped, float_wei)
    return capped if max_face_value is None else min(capped, max_face_value)


def win_probability(face_value_wei: int, ticket_ev: int) -> int:
    """winProb = EV × ⌈(2^256 − 1) / faceValue⌉, at most 2^256 − 1 (a ticket that always wins)."""
    if face_value_wei <= 0:
        raise ValueError(f"face value must be positive, got {face_value_wei}")
    return min(ticket_ev * ceil_div(MAX_WIN_PROB, face_value_wei), MAX_WIN_PROB)


def tickets_to_send(fee_wei: int, ticket_ev: int, credit_wei: int) -> int:
    """numTickets = ⌈(max(fee, EV) − credit) / EV⌉, none when the credit already covers the fee."""
    if ticket_ev <= 0:
        raise ValueError(f"ticket EV must be positive, got {ticket_ev}")
    return max(0, ceil_div(max(fee_wei, ticket_ev) - credit_wei, ticket_ev))
