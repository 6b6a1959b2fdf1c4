# pragma version 0.4.3
"""
@title TicketBroker
@notice Livepeer's probabilistic-micropayment broker in ETH (docs/protocol.md §3.4):
        senders fund a deposit and a reserve, anyone submits a sender-signed
        winning ticket with its recipientRand, and the face value is paid to
        the ticket's recipient, from the deposit first and then from the
        sender's reserve, at most reserve/poolSize per orchestrator per round.
        Same functions, events and redemption checks as Livepeer's
        TicketBroker (MixinTicketBrokerCore, MixinReserve,
        MixinTicketProcessor, MixinWrappers); it pays the recipient in ETH
        directly where Livepeer credits a fee pool in its BondingManager.
"""

interface OrchestratorRegistry:
    def currentRound() -> uint256: view
    def currentRoundInitialized() -> bool: view
    def blockHashForRound(_round: uint256) -> bytes32: view
    def isActiveTranscoder(_addr: address) -> bool: view
    def getTranscoderPoolSize() -> uint256: view

# Livepeer takes `bytes auxData`; a Vyper bound is needed, and one above 64
# keeps malformed lengths reaching the explicit auxData check below.
MAX_AUX_DATA_LENGTH: constant(uint256) = 256
MAX_BATCH_SIZE: constant(uint256) = 64
# secp256k1 n / 2: signatures with a higher s are the malleable twin (EIP-2).
SECP256K1_HALF_N: constant(uint256) = 57896044618658097711785492504343953926418782139537452191302581570759080747168

struct Ticket:
    recipient: address
    sender: address
    faceValue: uint256
    winProb: uint256
    senderNonce: uint256
    recipientRandHash: bytes32
    auxData: Bytes[MAX_AUX_DATA_LENGTH]

struct Sender:
    deposit: uint256
    withdrawRound: uint256

struct ReserveInfo:
    fundsRemaining: uint256
    claimedInCurrentRound: uint256

event DepositFunded:
    sender: indexed(address)
    amount: uint256

event ReserveFunded:
    reserveHolder: indexed(address)
    amount: uint256

event ReserveClaimed:
    reserveHolder: indexed(address)
    claimant: address
    amount: uint256

event WinningTicketRedeemed:
    sender: indexed(address)
    recipient: indexed(address)
    faceValue: uint256
    winProb: uint256
    senderNonce: uint256
    recipientRand: uint256
    auxData: Bytes[MAX_AUX_DATA_LENGTH]

event WinningTicketTransfer:
    sender: indexed(address)
    recipient: indexed(address)
    amount: uint256

event Unlock:
    sender: indexed(address)
    startRound: uint256
    endRound: uint256

event UnlockCancelled:
    sender: indexed(address)

event Withdrawal:
    sender: indexed(address)
    deposit: uint256
    reserve: uint256

registry: public(immutable(OrchestratorRegistry))
unlockPeriod: public(immutable(uint256))
ticketValidityPeriod: public(immutable(uint256))

senders: HashMap[address, Sender]
usedTickets: public(HashMap[bytes32, bool])
reserveFunds: HashMap[address, uint256]
reserveClaimedForRound: HashMap[address, HashMap[uint256, uint256]]
reserveClaimedByAddress: HashMap[address, HashMap[uint256, HashMap[address, uint256]]]


@deploy
def __init__(_registry: address, _unlockPeriod: uint256, _ticketValidityPeriod: uint256):
    assert _registry != empty(address), "registry is null address"
    assert _unlockPeriod > 0, "unlock period must be positive"
    assert _ticketValidityPeriod > 0, "ticket validity period must be positive"
    registry = OrchestratorRegistry(_registry)
    unlockPeriod = _unlockPeriod
    ticketValidityPeriod = _ticketValidityPeriod


# Funding


@external
@payable
def fundDeposit():
    assert msg.value > 0, "no funds sent"
    self._processDeposit(msg.sender, msg.value)


@external
@payable
def fundReserve():
    assert msg.value > 0, "no funds sent"
    self._processReserve(msg.sender, msg.value)


@external
@payable
def fundDepositAndReserve(_depositAmount: uint256, _reserveAmount: uint256):
    self._fundDepositAndReserveFor(msg.sender, _depositAmount, _reserveAmount)


@external
@payable
def fundDepositAndReserveFor(_addr: address, _depositAmount: uint256, _reserveAmount: uint256):
    self._fundDepositAndReserveFor(_addr, _depositAmount, _reserveAmount)


@internal
@payable
def _fundDepositAndReserveFor(_addr: address, _depositAmount: uint256, _reserveAmount: uint256):
    assert _addr != empty(address), "sender is null address"
    assert msg.value == _depositAmount + _reserveAmount, "msg.value does not equal sum of deposit amount and reserve amount"
    # Unlike Livepeer, a zero funding is refused: it would let anyone cancel
    # another sender's unlock for free.
    assert msg.value > 0, "no funds sent"
    if _depositAmount > 0:
        self._processDeposit(_addr, _depositAmount)
    if _reserveAmount > 0:
        self._processReserve(_addr, _reserveAmount)


@internal
def _processDeposit(_addr: address, _amount: uint256):
    self.senders[_addr].deposit += _amount
    # New funds end an unlock in progress, as in Livepeer's processDeposit.
    if self.senders[_addr].withdrawRound > 0:
        self._cancelUnlock(_addr)
    log DepositFunded(sender=_addr, amount=_amount)


@internal
def _processReserve(_addr: address, _amount: uint256):
    self.reserveFunds[_addr] += _amount
    log ReserveFunded(reserveHolder=_addr, amount=_amount)
    if self.senders[_addr].withdrawRound > 0:
        self._cancelUnlock(_addr)


# Redemption


@external
@nonreentrant
def redeemWinningTicket(_ticket: Ticket, _sig: Bytes[65], _recipientRand: uint256):
    """
    @notice Pay a winning ticket's face value to its recipient. Anyone may submit it.
    """
    assert staticcall registry.currentRoundInitialized(), "current round is not initialized"
    ticketHash: bytes32 = self._ticketHash(_ticket)
    self._requireValidWinningTicket(_ticket, ticketHash, _sig, _recipientRand)

    # A sender in its unlock period can still be redeemed against until its
    # withdraw round (Livepeer's isLocked).
    assert self._isLocked(_ticket.sender), "sender is unlocked"
    deposit: uint256 = self.senders[_ticket.sender].deposit
    assert deposit > 0 or self.reserveFunds[_ticket.sender] > 0, "sender deposit and reserve are zero"

    # Effects before the transfer below, so a reentering recipient sees a used ticket.
    self.usedTickets[ticketHash] = True
    amountToTransfer: uint256 = 0
    if _ticket.faceValue > deposit:
        amountToTransfer = deposit + self._claimFromReserve(_ticket.sender, _ticket.recipient, _ticket.faceValue - deposit)
        self.senders[_ticket.sender].deposit = 0
    else:
        amountToTransfer = _ticket.faceValue
        self.senders[_ticket.sender].deposit = deposit - _ticket.faceValue

    if amountToTransfer > 0:
        raw_call(_ticket.recipient, b"", value=amountToTransfer)
        log WinningTicketTransfer(sender=_ticket.sender, recipient=_ticket.recipient, amount=amountToTransfer)

    log WinningTicketRedeemed(
        sender=_ticket.sender,
        recipient=_ticket.recipient,
        faceValue=_ticket.faceValue,
        winProb=_ticket.winProb,
        senderNonce=_ticket.senderNonce,
        recipientRand=_recipientRand,
        auxData=_ticket.auxData,
    )


@external
def batchRedeemWinningTickets(
    _tickets: DynArray[Ticket, MAX_BATCH_SIZE],
    _sigs: DynArray[Bytes[65], MAX_BATCH_SIZE],
    _recipientRands: DynArray[uint256, MAX_BATCH_SIZE],
):
    """
    @notice Redeem several winning tickets; one that fails is skipped, not fatal
            (Livepeer's MixinWrappers). WinningTicketRedeemed events tell which paid.
    """
    assert staticcall registry.currentRoundInitialized(), "current round is not initialized"
    assert len(_sigs) == len(_tickets) and len(_recipientRands) == len(_tickets), "array lengths differ"
    for i: uint256 in range(len(_tickets), bound=MAX_BATCH_SIZE):
        gasBefore: uint256 = msg.gas
        redeemed: bool = raw_call(
            self,
            abi_encode(
                _tickets[i],
                _sigs[i],
                _recipientRands[i],
                method_id=method_id("redeemWinningTicket((address,address,uint256,uint256,uint256,bytes32,bytes),bytes,uint256)"),
            ),
            revert_on_failure=False,
        )
        # A ticket that failed only because the transaction ran short of gas
        # must not be skipped (and lost to a low gas limit or a low
        # eth_estimateGas): a call keeps just 1/64 of the gas (EIP-150), so
        # that little left after a failure means the redemption starved.
        assert redeemed or msg.gas > gasBefore // 32, "batch ran out of gas"


@internal
@view
def _requireValidWinningTicket(_ticket: Ticket, _ticketHash: bytes32, _sig: Bytes[65], _recipientRand: uint256):
    # Same checks, order and messages as Livepeer's requireValidWinningTicket.
    assert _ticket.recipient != empty(address), "ticket recipient is null address"
    assert _ticket.sender != empty(address), "ticket sender is null address"
    self._requireValidTicketAuxData(_ticket.auxData)
    assert keccak256(convert(_recipientRand, bytes32)) == _ticket.recipientRandHash, "recipientRand does not match recipientRandHash"
    assert not self.usedTickets[_ticketHash], "ticket is used"
    assert self._recoverTicketSigner(_ticketHash, _sig) == _ticket.sender, "invalid signature over ticket hash"
    assert self._isWinningTicket(_sig, _recipientRand, _ticket.winProb), "ticket did not win"


@internal
@view
def _requireValidTicketAuxData(_auxData: Bytes[MAX_AUX_DATA_LENGTH]):
    # auxData = uint256 creationRound ‖ bytes32 creationRoundBlockHash (docs/protocol.md §3.1).
    assert len(_auxData) == 64, "invalid length for ticket auxData: must be 64 bytes"
    creationRound: uint256 = convert(extract32(_auxData, 0), uint256)
    creationRoundBlockHash: bytes32 = extract32(_auxData, 32)
    blockHash: bytes32 = staticcall registry.blockHashForRound(creationRound)
    assert blockHash != empty(bytes32), "ticket creationRound does not have a block hash"
    assert creationRoundBlockHash == blockHash, "ticket creationRoundBlockHash invalid for creationRound"
    assert creationRound + ticketValidityPeriod > staticcall registry.currentRound(), "ticket is expired"


@internal
@pure
def _recoverTicketSigner(_ticketHash: bytes32, _sig: Bytes[65]) -> address:
    # EIP-191 personal sign over the 32-byte ticket hash, r ‖ s ‖ v (docs/protocol.md §3.1).
    assert len(_sig) == 65, "invalid signature length"
    r: uint256 = convert(extract32(_sig, 0), uint256)
    s: uint256 = convert(extract32(_sig, 32), uint256)
    v: uint256 = convert(slice(_sig, 64, 1), uint256)
    assert s <= SECP256K1_HALF_N, "invalid signature 's' value"
    assert v == 27 or v == 28, "invalid signature 'v' value"
    digest: bytes32 = keccak256(concat(b"\x19Ethereum Signed Message:\n32", _ticketHash))
    signer: address = ecrecover(digest, v, r, s)
    assert signer != empty(address), "invalid signature"
    return signer


@internal
@pure
def _isWinningTicket(_sig: Bytes[65], _recipientRand: uint256, _winProb: uint256) -> bool:
    # uint256(keccak256(sig ‖ uint256(recipientRand))) < winProb (docs/protocol.md §3.1).
    return convert(keccak256(concat(_sig, convert(_recipientRand, bytes32))), uint256) < _winProb


@internal
@pure
def _ticketHash(_ticket: Ticket) -> bytes32:
    # keccak256(abi.encodePacked(...)): 232 bytes with a 64-byte auxData (docs/protocol.md §3.1).
    return keccak256(
        concat(
            convert(_ticket.recipient, bytes20),
            convert(_ticket.sender, bytes20),
            convert(_ticket.faceValue, bytes32),
            convert(_ticket.winProb, bytes32),
            convert(_ticket.senderNonce, bytes32),
            _ticket.recipientRandHash,
            _ticket.auxData,
        )
    )


@external
@pure
def getTicketHash(_ticket: Ticket) -> bytes32:
    return self._ticketHash(_ticket)


@external
@pure
def recoverTicketSigner(_ticketHash: bytes32, _sig: Bytes[65]) -> address:
    """
    @notice The address that signed `_ticketHash`, as the redemption check sees it.
    """
    return self._recoverTicketSigner(_ticketHash, _sig)


# Reserve (Livepeer MixinReserve)


@internal
@view
def _claimableReserve(_reserveHolder: address, _claimant: address) -> uint256:
    if not staticcall registry.isActiveTranscoder(_claimant):
        return 0
    poolSize: uint256 = staticcall registry.getTranscoderPoolSize()
    if poolSize == 0:
        return 0
    round: uint256 = staticcall registry.currentRound()
    funds: uint256 = self.reserveFunds[_reserveHolder]
    # Each active orchestrator may take 1/poolSize of what the reserve held at
    # the start of the round: remaining funds plus what was claimed this round.
    allowance: uint256 = (funds + self.reserveClaimedForRound[_reserveHolder][round]) // poolSize
    claimed: uint256 = self.reserveClaimedByAddress[_reserveHolder][round][_claimant]
    # Livepeer fixes the pool per round; here it can grow mid-round, so guard
    # the subtraction, and never promise more than the reserve still holds.
    if claimed >= allowance:
        return 0
    return min(allowance - claimed, funds)


@internal
def _claimFromReserve(_reserveHolder: address, _claimant: address, _amount: uint256) -> uint256:
    claimAmount: uint256 = min(_amount, self._claimableReserve(_reserveHolder, _claimant))
    if claimAmount > 0:
        round: uint256 = staticcall registry.currentRound()
        self.reserveClaimedForRound[_reserveHolder][round] += claimAmount
        self.reserveClaimedByAddress[_reserveHolder][round][_claimant] += claimAmount
        self.reserveFunds[_reserveHolder] -= claimAmount
        log ReserveClaimed(reserveHolder=_reserveHolder, claimant=_claimant, amount=claimAmount)
    return claimAmount


@external
@view
def claimableReserve(_reserveHolder: address, _claimant: address) -> uint256:
    return self._claimableReserve(_reserveHolder, _claimant)


@external
@view
def claimedReserve(_reserveHolder: address, _claimant: address) -> uint256:
    return self.reserveClaimedByAddress[_reserveHolder][staticcall registry.currentRound()][_claimant]


@internal
@view
def _reserveInfo(_reserveHolder: address) -> ReserveInfo:
    return ReserveInfo(
        fundsRemaining=self.reserveFunds[_reserveHolder],
        claimedInCurrentRound=self.reserveClaimedForRound[_reserveHolder][staticcall registry.currentRound()],
    )


@external
@view
def getReserveInfo(_reserveHolder: address) -> ReserveInfo:
    return self._reserveInfo(_reserveHolder)


# Unlock and withdrawal


@internal
@view
def _isLocked(_sender: address) -> bool:
    withdrawRound: uint256 = self.senders[_sender].withdrawRound
    return withdrawRound == 0 or staticcall registry.currentRound() < withdrawRound


@external
def unlock():
    """
    @notice Start the unlock period; withdraw() works from currentRound + unlockPeriod.
    """
    assert self.senders[msg.sender].deposit > 0 or self.reserveFunds[msg.sender] > 0, "sender deposit and reserve are zero"
    assert self.senders[msg.sender].withdrawRound == 0, "unlock already initiated"
    round: uint256 = staticcall registry.currentRound()
    self.senders[msg.sender].withdrawRound = round + unlockPeriod
    log Unlock(sender=msg.sender, startRound=round, endRound=round + unlockPeriod)


@external
def cancelUnlock():
    self._cancelUnlock(msg.sender)


@internal
def _cancelUnlock(_sender: address):
    assert self.senders[_sender].withdrawRound > 0, "no unlock request in progress"
    self.senders[_sender].withdrawRound = 0
    log UnlockCancelled(sender=_sender)


@external
@nonreentrant
def withdraw():
    deposit: uint256 = self.senders[msg.sender].deposit
    reserve: uint256 = self.reserveFunds[msg.sender]
    assert deposit > 0 or reserve > 0, "sender deposit and reserve are zero"
    assert self.senders[msg.sender].withdrawRound > 0, "no unlock request in progress"
    assert not self._isLocked(msg.sender), "account is locked"
    self.senders[msg.sender] = empty(Sender)
    self.reserveFunds[msg.sender] = 0
    raw_call(msg.sender, b"", value=deposit + reserve)
    log Withdrawal(sender=msg.sender, deposit=deposit, reserve=reserve)


@external
@view
def isUnlockInProgress(_sender: address) -> bool:
    return self.senders[_sender].withdrawRound > 0


@external
@view
def getSenderInfo(_sender: address) -> (Sender, ReserveInfo):
    return self.senders[_sender], self._reserveInfo(_sender)
