"""Errors the engine raises for bad input. Each message names the file and the problem."""


class EmoTalkError(Exception):
    """Base of every error a user can cause (bad audio, bad checkpoint, bad template set)."""

    def __init__(self, *args):
        # One line whatever the user typed: a name or flag value quoted raw may hold line breaks.
        super().__init__(*(a.replace("\r", "\\r").replace("\n", "\\n") if isinstance(a, str) else a
                           for a in args))


class SettingsError(EmoTalkError):
    """A control (level, speaking style, backend) outside what the model accepts."""


class AudioError(EmoTalkError):
    """An audio file that is missing, unreadable, empty, too short or holds NaN/inf samples."""


class CheckpointError(EmoTalkError):
    """A checkpoint that is missing, corrupt, unsafe to load or of the wrong layout."""


class TemplateError(EmoTalkError):
    """A blendshape template set that is missing pieces or inconsistent."""


class Cancelled(Exception):
    """Raised inside long work when the caller's cancel event is set (Esc in Blender)."""
