"""The GIF competition app: make a GIF, watch it being made, enter it into a round, vote, share."""
