"""The runner HTTP service (Livepeer's AI runner API) and the client that calls it."""
