"""Probabilistic micropayments: Livepeer-format tickets, the chain client and contracts, receipts."""
