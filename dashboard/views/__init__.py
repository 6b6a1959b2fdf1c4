"""The dashboard's pages: sign-in (signin.py), a node's private pages (node.py), the public overview (network.py)."""
