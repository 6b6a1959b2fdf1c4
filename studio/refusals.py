"""The one way the studio's rules say no: a plain-words message and the HTTP status that fits it."""

from __future__ import annotations


class Refused(Exception):
    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
