"""The studio's pages: making GIFs (jobs), the competition (gallery), accounts and moderation."""
