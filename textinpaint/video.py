"""Video: follow what the text names through a clip's frames, and remove, replace or re-background
it (the ``video`` extra).

The functions run on the default pipeline (see :func:`textinpaint.configure`); call the same
functions from :mod:`textinpaint.workflows.video` with your own :class:`~textinpaint.Pipeline`
as the first argument to use another.

Example:
    >>> from textinpaint import video
    >>> masks = video.track("street.mp4", "the red car")  # doctest: +SKIP
    >>> video.remove("beach.mp4", "the person", output="empty-beach.mkv")  # doctest: +SKIP
"""

from __future__ import annotations

from .pipeline import _on_default
from .videomasks import VideoMasks, load_video_masks
from .videos import probe, read_frames, transcode
from .workflows.video import VideoEdit
from .workflows.video import remove as _remove
from .workflows.video import replace as _replace
from .workflows.video import replace_background as _replace_background
from .workflows.video import track as _track

track = _on_default(_track)
replace = _on_default(_replace)
remove = _on_default(_remove)
replace_background = _on_default(_replace_background)

__all__ = [
    "VideoEdit",
    "VideoMasks",
    "load_video_masks",
    "probe",
    "read_frames",
    "remove",
    "replace",
    "replace_background",
    "track",
    "transcode",
]
