"""Rules both sides of a job share: what a unit of work is and what it costs, and the /info
document a node serves. The gateway, the node and the dashboard import these; this package
imports only the runner API's request schema (whose defaults are what gets billed)."""
