# pragma version 0.4.3
"""
@title OrchestratorRegistry
@notice Rounds, orchestrator stake and service URIs for the livepeer-ai network.
        One contract stands in for three of Livepeer's (docs/protocol.md §4): the
        RoundsManager (rounds, `blockHashForRound`), the BondingManager's
        transcoder pool (top `poolMaxSize` by stake, same view names) and the
        ServiceRegistry (`setServiceURI`, `getServiceURI`, `ServiceURIUpdate`).
        Stake is plain ETH sent with `register` and cannot be withdrawn: this
        model has no delegation, unbonding or slashing.
"""

MAX_POOL_SIZE: constant(uint256) = 256
MAX_SERVICE_URI_LENGTH: constant(uint256) = 256

event NewRound:
    round: indexed(uint256)
    blockHash: bytes32

event ServiceURIUpdate:
    addr: indexed(address)
    serviceURI: String[MAX_SERVICE_URI_LENGTH]

event StakeIncreased:
    orchestrator: indexed(address)
    amount: uint256
    totalStake: uint256

event TranscoderActivated:
    transcoder: indexed(address)
    round: uint256

event TranscoderDeactivated:
    transcoder: indexed(address)
    round: uint256

roundLength: public(immutable(uint256))
poolMaxSize: immutable(uint256)

lastInitializedRound: public(uint256)
blockHashForRound: public(HashMap[uint256, bytes32])

stakeOf: public(HashMap[address, uint256])
serviceURIs: HashMap[address, String[MAX_SERVICE_URI_LENGTH]]

# The active set, kept sorted as a doubly linked list like Livepeer's
# SortedDoublyLL transcoder pool: stake descending, then address ascending so
# that equal stakes order the same way whatever the history. Stake only ever
# grows, so an orchestrator outside the pool ranks below every member until its
# own stake changes, and re-checking on each change keeps the pool exactly the
# top `poolMaxSize`.
poolSize: uint256
poolHead: address
poolTail: address
poolNext: HashMap[address, address]
poolPrev: HashMap[address, address]
inPool: HashMap[address, bool]


@deploy
def __init__(_roundLength: uint256, _poolMaxSize: uint256):
    assert _roundLength > 0, "round length must be positive"
    assert _poolMaxSize > 0 and _poolMaxSize <= MAX_POOL_SIZE, "pool max size out of range"
    roundLength = _roundLength
    poolMaxSize = _poolMaxSize
    # Tickets need an initialized round from the start (they carry its block hash).
    self._initializeRound(block.number // _roundLength)


# Rounds (Livepeer RoundsManager)


@internal
@view
def _currentRound() -> uint256:
    return block.number // roundLength


@external
@view
def currentRound() -> uint256:
    return self._currentRound()


@external
@view
def currentRoundInitialized() -> bool:
    return self.blockHashForRound[self._currentRound()] != empty(bytes32)


@external
def initializeRound():
    """
    @notice Record the block hash that tickets of the current round commit to.
    """
    round: uint256 = self._currentRound()
    assert self.blockHashForRound[round] == empty(bytes32), "round already initialized"
    self._initializeRound(round)


@internal
def _initializeRound(round: uint256):
    # Livepeer's RoundsManager stores blockhash(block.number - 1) too: the
    # newest hash the EVM can read, fixed before this transaction ran, so no
    # sender can know it before the round starts; the current block's own hash
    # does not exist yet inside it. Block 0 has no predecessor, and only a
    # simulation (eth_estimateGas on a fresh chain) runs there, never a mined
    # transaction.
    roundBlockHash: bytes32 = empty(bytes32)
    if block.number > 0:
        roundBlockHash = blockhash(block.number - 1)
    self.lastInitializedRound = round
    self.blockHashForRound[round] = roundBlockHash
    log NewRound(round=round, blockHash=roundBlockHash)


# Registration and stake


@external
@payable
def register(_serviceURI: String[MAX_SERVICE_URI_LENGTH]):
    """
    @notice Stake msg.value (added to any earlier stake) and set the service URI.
    """
    assert msg.value > 0, "stake must be positive"
    self._setServiceURI(msg.sender, _serviceURI)
    self._addStake(msg.sender, msg.value)


@external
@payable
def addStake():
    assert self.stakeOf[msg.sender] > 0, "orchestrator not registered"
    assert msg.value > 0, "stake must be positive"
    self._addStake(msg.sender, msg.value)


@internal
def _addStake(_orchestrator: address, _amount: uint256):
    self.stakeOf[_orchestrator] += _amount
    log StakeIncreased(orchestrator=_orchestrator, amount=_amount, totalStake=self.stakeOf[_orchestrator])
    if self.inPool[_orchestrator]:
        self._removeFromPool(_orchestrator)
        self._insertIntoPool(_orchestrator)
    elif self.poolSize < poolMaxSize:
        self._insertIntoPool(_orchestrator)
        log TranscoderActivated(transcoder=_orchestrator, round=self._currentRound())
    elif self._outranks(_orchestrator, self.poolTail):
        evicted: address = self.poolTail
        self._removeFromPool(evicted)
        log TranscoderDeactivated(transcoder=evicted, round=self._currentRound())
        self._insertIntoPool(_orchestrator)
        log TranscoderActivated(transcoder=_orchestrator, round=self._currentRound())


# Service URIs (Livepeer ServiceRegistry)


@external
def setServiceURI(_serviceURI: String[MAX_SERVICE_URI_LENGTH]):
    self._setServiceURI(msg.sender, _serviceURI)


@internal
def _setServiceURI(_addr: address, _serviceURI: String[MAX_SERVICE_URI_LENGTH]):
    self.serviceURIs[_addr] = _serviceURI
    log ServiceURIUpdate(addr=_addr, serviceURI=_serviceURI)


@external
@view
def getServiceURI(_addr: address) -> String[MAX_SERVICE_URI_LENGTH]:
    return self.serviceURIs[_addr]


# The active set (Livepeer BondingManager transcoder pool views)


@internal
@view
def _outranks(_a: address, _b: address) -> bool:
    stakeA: uint256 = self.stakeOf[_a]
    stakeB: uint256 = self.stakeOf[_b]
    if stakeA != stakeB:
        return stakeA > stakeB
    return convert(_a, uint256) < convert(_b, uint256)


@internal
def _insertIntoPool(_addr: address):
    following: address = self.poolHead
    for i: uint256 in range(MAX_POOL_SIZE):
        if following == empty(address) or self._outranks(_addr, following):
            break
        following = self.poolNext[following]
    preceding: address = self.poolTail
    if following != empty(address):
        preceding = self.poolPrev[following]
    self.poolPrev[_addr] = preceding
    self.poolNext[_addr] = following
    if preceding == empty(address):
        self.poolHead = _addr
    else:
        self.poolNext[preceding] = _addr
    if following == empty(address):
        self.poolTail = _addr
    else:
        self.poolPrev[following] = _addr
    self.inPool[_addr] = True
    self.poolSize += 1


@internal
def _removeFromPool(_addr: address):
    preceding: address = self.poolPrev[_addr]
    following: address = self.poolNext[_addr]
    if preceding == empty(address):
        self.poolHead = following
    else:
        self.poolNext[preceding] = following
    if following == empty(address):
        self.poolTail = preceding
    else:
        self.poolPrev[following] = preceding
    self.poolPrev[_addr] = empty(address)
    self.poolNext[_addr] = empty(address)
    self.inPool[_addr] = False
    self.poolSize -= 1


@external
@view
def isActiveTranscoder(_addr: address) -> bool:
    return self.inPool[_addr]


@external
@view
def getTranscoderPoolSize() -> uint256:
    return self.poolSize


@external
@view
def getTranscoderPoolMaxSize() -> uint256:
    return poolMaxSize


@external
@view
def getFirstTranscoderInPool() -> address:
    return self.poolHead


@external
@view
def getNextTranscoderInPool(_addr: address) -> address:
    return self.poolNext[_addr]


@external
@view
def getActiveTranscoders() -> DynArray[address, MAX_POOL_SIZE]:
    """
    @notice The active set, highest stake first (ties: lower address first).
    """
    members: DynArray[address, MAX_POOL_SIZE] = []
    current: address = self.poolHead
    for i: uint256 in range(MAX_POOL_SIZE):
        if current == empty(address):
            break
        members.append(current)
        current = self.poolNext[current]
    return members
