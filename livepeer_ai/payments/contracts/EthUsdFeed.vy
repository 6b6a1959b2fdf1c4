# pragma version 0.4.3
"""
@title EthUsdFeed
@notice An ETH/USD price feed with Chainlink's AggregatorV3Interface read side
        (`decimals`, `description`, `version`, `latestRoundData`,
        `getRoundData`) and an admin who sets the answer. It stands in for
        Chainlink's ETH/USD aggregator on a local chain, so the product reads
        a price exactly as it would from mainnet: each `setAnswer` opens a new
        round whose `updatedAt` is the block's timestamp, which is what a
        reader's staleness bound is measured against.
"""

MAX_DESCRIPTION_LENGTH: constant(uint256) = 64

# Chainlink's AggregatorInterface events.
event AnswerUpdated:
    current: indexed(int256)
    roundId: indexed(uint256)
    updatedAt: uint256

event NewRound:
    roundId: indexed(uint256)
    startedBy: indexed(address)
    startedAt: uint256

event AdminChanged:
    previousAdmin: indexed(address)
    newAdmin: indexed(address)

struct Round:
    answer: int256
    startedAt: uint256
    updatedAt: uint256

decimals: public(immutable(uint8))
description: public(immutable(String[MAX_DESCRIPTION_LENGTH]))
version: public(constant(uint256)) = 4

admin: public(address)
latestRound: public(uint80)
rounds: HashMap[uint80, Round]


@deploy
def __init__(_decimals: uint8, _description: String[MAX_DESCRIPTION_LENGTH], _initialAnswer: int256):
    decimals = _decimals
    description = _description
    self.admin = msg.sender
    self._set_answer(_initialAnswer)


@internal
def _set_answer(_answer: int256):
    # A price of zero or less is never an ETH price; Chainlink readers treat it as invalid.
    assert _answer > 0, "answer must be positive"
    round_id: uint80 = self.latestRound + 1
    self.latestRound = round_id
    self.rounds[round_id] = Round(answer=_answer, startedAt=block.timestamp, updatedAt=block.timestamp)
    log NewRound(roundId=convert(round_id, uint256), startedBy=msg.sender, startedAt=block.timestamp)
    log AnswerUpdated(current=_answer, roundId=convert(round_id, uint256), updatedAt=block.timestamp)


@external
def setAnswer(_answer: int256):
    """@notice A new round with `_answer` (scaled by 10**decimals), as of this block."""
    assert msg.sender == self.admin, "only the admin sets the answer"
    self._set_answer(_answer)


@external
def setAdmin(_newAdmin: address):
    assert msg.sender == self.admin, "only the admin hands over the feed"
    assert _newAdmin != empty(address), "admin cannot be the zero address"
    log AdminChanged(previousAdmin=self.admin, newAdmin=_newAdmin)
    self.admin = _newAdmin


@view
@internal
def _round_data(_roundId: uint80) -> (uint80, int256, uint256, uint256, uint80):
    assert _roundId > 0 and _roundId <= self.latestRound, "No data present"
    r: Round = self.rounds[_roundId]
    return _roundId, r.answer, r.startedAt, r.updatedAt, _roundId


@view
@external
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    """@notice (roundId, answer, startedAt, updatedAt, answeredInRound), as AggregatorV3Interface."""
    return self._round_data(self.latestRound)


@view
@external
def getRoundData(_roundId: uint80) -> (uint80, int256, uint256, uint256, uint80):
    return self._round_data(_roundId)
