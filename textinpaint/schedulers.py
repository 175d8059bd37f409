"""The sampler schedulers a painting step can use, by short name (read by the API, the CLI and the app)."""

from __future__ import annotations

from .errors import InvalidInputError

# Display name -> (diffusers class name, extra config). Names are matched ignoring case, spaces,
# "_" and "-", so "DPM++ 2M", "dpm++2m" and "dpmpp_2m" are the same.
SCHEDULERS: dict[str, tuple[str, dict[str, object]]] = {
    "ddim": ("DDIMScheduler", {}),
    "pndm": ("PNDMScheduler", {"skip_prk_steps": True}),  # as Stable Diffusion ships it
    "euler": ("EulerDiscreteScheduler", {}),
    "euler a": ("EulerAncestralDiscreteScheduler", {}),
    "dpm++ 2m": ("DPMSolverMultistepScheduler", {}),
    "dpm++ 2m karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "unipc": ("UniPCMultistepScheduler", {}),
    "lms": ("LMSDiscreteScheduler", {}),
}


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch not in " _-").replace("pp", "++")


_BY_KEY = {_key(name): name for name in SCHEDULERS}


def scheduler_key(name: str) -> str:
    """The display name ``name`` stands for; raise InvalidInputError naming the known ones."""
    if not isinstance(name, str) or _key(name) not in _BY_KEY:
        raise InvalidInputError(f"scheduler must be one of {list(SCHEDULERS)}; got {name!r}")
    return _BY_KEY[_key(name)]
