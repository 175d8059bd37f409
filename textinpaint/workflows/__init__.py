"""The workflows, one file each, written top to bottom as numbered steps (see :mod:`textinpaint.runtime`).

Each is a plain function whose first argument is the :class:`~textinpaint.Pipeline` holding the
models; :class:`~textinpaint.Pipeline` exposes them as methods and the package as module-level
functions on a shared default pipeline.
"""
