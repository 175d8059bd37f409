"""The backends: one file per kind of model, each declaring what it can do (see :mod:`textinpaint.stages`)."""
