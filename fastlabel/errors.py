"""Typed errors. Each carries the HTTP status the server answers with, so routes stay thin."""

from __future__ import annotations


class FastLabelError(Exception):
    """Base of every error a user can cause; the message is shown to the user as is."""

    status: int = 400


class InvalidInput(FastLabelError):
    """A request or file that does not have the expected shape or values."""


class DataError(FastLabelError):
    """A data source that cannot be read as asked (wrong grid, empty folder, bad CSV)."""


class UnknownItem(FastLabelError):
    """An item id outside the data source."""

    status = 404


class UnknownStrategy(FastLabelError):
    """A strategy name that is not in the registry."""


class EncoderUnavailable(FastLabelError):
    """An encoder whose weights or packages cannot be loaded here; the message says what to do."""

    status = 503


class BadModelFile(FastLabelError):
    """A model artifact that is missing, damaged, altered, or not a FastLabel model; never unpickled."""


class NoTextSide(FastLabelError):
    """A text query asked of an encoder that only embeds images."""

    status = 409


class NothingToUndo(FastLabelError):
    """Undo asked with no submission left to take back."""

    status = 409


class NotReady(FastLabelError):
    """The session is still being prepared (embedding the images)."""

    status = 503


class StorageFull(FastLabelError):
    """The disk holding the session journal is full: the request was not saved."""

    status = 507


class StorageError(FastLabelError):
    """The session journal cannot be written (permissions, a read-only or failing disk)."""

    status = 503


class UnknownConcept(FastLabelError):
    """A concept name that this workspace does not hold."""

    status = 404


class ConceptExists(FastLabelError):
    """A new concept whose name is taken (names compare without case)."""

    status = 409


class RequestIdReused(FastLabelError):
    """A request id sent again with a different change than the one it was first recorded with."""

    status = 409


class Unauthorized(FastLabelError):
    """No personal token, or one that names nobody (users exist, so every request needs one)."""

    status = 401


class Forbidden(FastLabelError):
    """A signed-in user whose role does not allow the request (a labeler exporting, say)."""

    status = 403


class TooManyAttempts(FastLabelError):
    """Too many wrong tokens in a row from one client: it must wait before trying again."""

    status = 429


class UnknownUser(FastLabelError):
    """A user name that is not in the home's user list."""

    status = 404


class UserExists(FastLabelError):
    """A new user whose name is taken."""

    status = 409
