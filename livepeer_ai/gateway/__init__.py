"""Jobs and workflows: the durable job state and the drivers that run its stages."""
