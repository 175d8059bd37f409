"""The workflows built on the stages: replace, remove, replace the background, generate.

They are methods of :class:`~textinpaint.Pipeline` (which inherits this mixin), written here so
that each file stays small; they use the pipeline's models and its ``_find_many`` /
``_paint_many`` steps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import PIL.Image

from .checks import MaskMode, Select, check_text
from .depth import DEFAULT_CONTROLNET_SCALE, DepthControlled
from .detection import DEFAULT_BOX_THRESHOLD, DEFAULT_TEXT_THRESHOLD, empty_detections
from .diffusion import DiffusersInpainter
from .errors import InvalidInputError
from .images import ImageInput
from .inpainting import DEFAULT_GUIDANCE, DEFAULT_NEGATIVE_PROMPT, DEFAULT_STEPS, DEFAULT_STRENGTH, Filler, draw_seed
from .masks import auto_dilation, auto_feather, distance_outside, load_mask
from .results import Edit
from .runtime import Found, fill_request, painted_edit, timed, unchanged_edit

if TYPE_CHECKING:
    from .pipeline import Pipeline


class Workflows:
    """The workflow methods of :class:`~textinpaint.Pipeline`."""

    # ---- workflows --------------------------------------------------------------------------

    def replace(
        self: Pipeline,
        image: ImageInput | Sequence[ImageInput],
        find: str | Sequence[str],
        with_: str,
        *,
        select: Select = "all",
        mask_mode: MaskMode = "mask",
        strict: bool = False,
        box_threshold: float = DEFAULT_BOX_THRESHOLD,
        text_threshold: float = DEFAULT_TEXT_THRESHOLD,
        negative_prompt: str = DEFAULT_NEGATIVE_PROMPT,
        steps: int = DEFAULT_STEPS,
        guidance: float = DEFAULT_GUIDANCE,
        strength: float = DEFAULT_STRENGTH,
        seed: int | None = None,
        dilate: int | None = None,
        feather: int | None = None,
        scheduler: str | None = None,
        refine: bool = False,
        upscale: int | None = None,
    ) -> Edit:
        """Find ``find`` in the image and repaint it as ``with_``.

        Given a list of images, every one is checked before any work starts; then they go through
        the detector (one pass per image size), SAM's encoder (one pass) and the UNet (one run per
        group of crops painted at the same size) together, and a list of edits comes back. A given
        ``seed`` is used for every image, as if each were edited alone (without one, each image
        draws its own); a list of one gives exactly the single call's edit.
        ``timings`` are then the whole batch's.

        Args:
            image: a path, PIL image or numpy array, or a list of them.
            find: what to replace: a phrase, several (``"dog. cat"``) or a list.
            with_: the prompt for what to paint instead; ``""`` removes the object (:meth:`remove`).
            select: which matches to repaint: ``"all"`` (their union), ``"best"`` (highest
                score), ``"largest"`` (largest mask, or box in box mode), an index in score order,
                or a list of indices.
            mask_mode: ``"mask"`` repaints SAM's outline (dilated); ``"box"`` repaints the whole
                box, for replacements whose shape differs from the original's (SAM is not run).
            strict: raise :class:`~textinpaint.NothingFoundError` when nothing matches,
                instead of returning the input with ``found=False``.
            box_threshold: see :meth:`detect`.
            text_threshold: see :meth:`detect`.
            negative_prompt: see :meth:`inpaint`.
            steps: see :meth:`inpaint`.
            guidance: see :meth:`inpaint`.
            strength: see :meth:`inpaint`.
            seed: see :meth:`inpaint`; the seed used is in ``Edit.seed``.
            dilate: see :meth:`inpaint`.
            feather: see :meth:`inpaint`.
            scheduler: see :meth:`inpaint`.
            refine: see :meth:`inpaint`.
            upscale: see :meth:`inpaint`.

        Returns:
            An :class:`Edit` (a list of them for a list of images). When nothing is found,
            ``found`` is False, ``image`` is the input unchanged and only the detector has run.

        Example:
            >>> from textinpaint import replace
            >>> edit = replace("street.jpg", find="the red car", with_="a vintage blue pickup truck", seed=0)  # doctest: +SKIP
            >>> edit.image.save("out.png")  # doctest: +SKIP
        """
        if isinstance(with_, str) and not with_.strip():
            return self.remove(image, find, select=select, mask_mode=mask_mode, strict=strict,  # type: ignore[arg-type]
                               box_threshold=box_threshold, text_threshold=text_threshold, seed=seed,
                               dilate=dilate, feather=feather)
        batch = isinstance(image, (list, tuple))
        pictures = [self._picture(one) for one in (image if batch else [image])]  # all checked before any work
        check_text("with_", with_)
        first = fill_request(with_, negative_prompt, steps, guidance, strength, seed, scheduler, refine, upscale,
                         dilate=dilate, feather=feather)
        requests = [first] + [
            dataclasses.replace(first, seed=draw_seed() if seed is None else first.seed) for _ in pictures[1:]
        ]
        timings: dict[str, float] = {}
        found = self._find_many(pictures, find, select, mask_mode, strict, box_threshold, text_threshold, timings)
        hit = [i for i, f in enumerate(found) if f.region is not None]
        painted = self._paint_many([pictures[i] for i in hit], [found[i].region for i in hit],  # type: ignore[misc]
                                   lambda: self._painter(first), [requests[i] for i in hit], dilate, feather, timings)
        edits = [unchanged_edit(p, f, r.seed, timings) for p, f, r in zip(pictures, found, requests)]
        for i, result in zip(hit, painted):
            edits[i] = painted_edit(pictures[i], found[i], result, requests[i].seed, timings)
        return edits if batch else edits[0]  # type: ignore[return-value]

    def remove(
        self: Pipeline,
        image: ImageInput,
        find: str | Sequence[str],
        *,
        select: Select = "all",
        mask_mode: MaskMode = "mask",
        strict: bool = False,
        box_threshold: float = DEFAULT_BOX_THRESHOLD,
        text_threshold: float = DEFAULT_TEXT_THRESHOLD,
        seed: int | None = None,
        dilate: int | None = None,
        feather: int | None = None,
    ) -> Edit:
        """Erase what ``find`` names and fill the hole with plausible background (LaMa).

        The diffusion model is not used: with an empty prompt it tends to paint a new object.
        Arguments are as for :meth:`replace`; ``seed`` only matters to a random remover.

        Example:
            >>> from textinpaint import remove
            >>> remove("beach.jpg", "the person").image.save("empty-beach.png")  # doctest: +SKIP
        """
        picture = self._picture(image)
        request = fill_request("remove", "", 1, 0.0, 1.0, seed, None, False, None, dilate=dilate, feather=feather)
        timings: dict[str, float] = {}
        found = self._find(picture, find, select, mask_mode, strict, box_threshold, text_threshold, timings)
        if found.region is None:
            return unchanged_edit(picture, found, request.seed, timings)
        painted = self._paint(picture, found.region, lambda: self.remover, request, dilate, feather, timings, "remove")
        return painted_edit(picture, found, painted, request.seed, timings)

    def replace_background(
        self: Pipeline,
        image: ImageInput,
        keep: str | Sequence[str] | None,
        with_: str,
        *,
        mask: object = None,
        depth: bool = True,
        controlnet_scale: float = DEFAULT_CONTROLNET_SCALE,
        seam: int | None = None,
        strict: bool = False,
        box_threshold: float = DEFAULT_BOX_THRESHOLD,
        text_threshold: float = DEFAULT_TEXT_THRESHOLD,
        negative_prompt: str = DEFAULT_NEGATIVE_PROMPT,
        steps: int = DEFAULT_STEPS,
        guidance: float = DEFAULT_GUIDANCE,
        strength: float = DEFAULT_STRENGTH,
        seed: int | None = None,
        scheduler: str | None = None,
        refine: bool = False,
        upscale: int | None = None,
    ) -> Edit:
        """Keep the subject, regenerate everything else from ``with_``.

        The subject is every match of ``keep`` (detect + segment), or ``mask`` when given. Its
        pixels stay bit-identical; the new background is blended in over a ``seam`` px band just
        outside it. With ``depth=True`` a depth map of the input conditions the painting through
        a depth ControlNet, so the new scene keeps the input's perspective.

        Args:
            image: a path, PIL image or numpy array.
            keep: what to keep (phrases, as for :meth:`detect`); None when ``mask`` is given.
            with_: the prompt for the new background.
            mask: the subject as a ``bool`` HxW mask (or PIL / path), instead of ``keep``.
            depth: condition on the input's depth through the ControlNet.
            controlnet_scale: the ControlNet's weight (0 ignores it, 1 follows it closely).
            seam: width in px of the blend band outside the subject (default: the automatic feather).
            strict: as for :meth:`replace`.
            box_threshold: as for :meth:`replace`.
            text_threshold: as for :meth:`replace`.
            negative_prompt: as for :meth:`inpaint`.
            steps: as for :meth:`inpaint`.
            guidance: as for :meth:`inpaint`.
            strength: as for :meth:`inpaint`.
            seed: as for :meth:`inpaint`.
            scheduler: as for :meth:`inpaint`.
            refine: as for :meth:`inpaint`.
            upscale: as for :meth:`inpaint`.

        Returns:
            An :class:`Edit`; ``mask`` is the repainted background, ``detections`` the subject.

        Example:
            >>> from textinpaint import replace_background
            >>> edit = replace_background("car.jpg", keep="the car", with_="a mountain road at sunset", seed=0)  # doctest: +SKIP
        """
        picture = self._picture(image)
        check_text("with_", with_)
        if (keep is None) == (mask is None):
            raise InvalidInputError("give exactly one of keep (what to find) or mask (the subject); got "
                                    f"keep={keep!r} and mask={'an array' if mask is not None else None}")
        if isinstance(controlnet_scale, bool) or not isinstance(controlnet_scale, (int, float)) or controlnet_scale < 0:
            raise InvalidInputError(f"controlnet_scale must be a number >= 0; got {controlnet_scale!r}")
        if seam is not None and (isinstance(seam, bool) or not isinstance(seam, int) or seam < 1):
            raise InvalidInputError(f"seam must be None (automatic) or an integer >= 1 pixels; got {seam!r}")
        request = fill_request(with_, negative_prompt, steps, guidance, strength, seed, scheduler, refine, upscale)
        timings: dict[str, float] = {}
        if mask is not None:
            subject = load_mask(mask, picture.width, picture.height)
            found = Found(empty_detections(picture.height, picture.width), [], subject)
        else:
            found = self._find(picture, keep, "all", "mask", strict, box_threshold, text_threshold, timings)
            if found.region is None:
                return unchanged_edit(picture, found, request.seed, timings)
        seam = seam or auto_feather(auto_dilation(picture.width, picture.height))
        background = distance_outside(found.region) > seam

        def painter() -> Filler:
            base = self._painter(request)
            if not depth:
                return base
            return DepthControlled(base.with_extras(controlnet=self.controlnet, upscaler=base.upscaler),  # type: ignore[attr-defined]
                                   self.depth, controlnet_scale)

        painted = self._paint(picture, background, painter, request, 0, seam - 1, timings)
        return painted_edit(picture, found._replace(region=background), painted, request.seed, timings)

    def generate(
        self: Pipeline,
        prompt: str,
        *,
        size: tuple[int, int] | None = None,
        negative_prompt: str = DEFAULT_NEGATIVE_PROMPT,
        steps: int = DEFAULT_STEPS,
        guidance: float = DEFAULT_GUIDANCE,
        seed: int | None = None,
        scheduler: str | None = None,
        upscale: int | None = None,
    ) -> PIL.Image.Image:
        """Make an image from text with the inpainting model's own weights (no second copy).

        Args:
            prompt: what to draw.
            size: ``(width, height)`` of the result; default the model's native square.
            negative_prompt: as for :meth:`inpaint`.
            steps: as for :meth:`inpaint`.
            guidance: as for :meth:`inpaint`.
            seed: as for :meth:`inpaint`.
            scheduler: as for :meth:`inpaint`.
            upscale: as for :meth:`inpaint`.

        Returns:
            An RGB image of exactly ``size``, with ``info["seed"]``.

        Example:
            >>> from textinpaint import generate, replace
            >>> edit = replace(generate("a woman in a park", seed=1), find="hair", with_="short pink hair")  # doctest: +SKIP
        """
        request = fill_request(prompt, negative_prompt, steps, guidance, 1.0, seed, scheduler, False, upscale)
        if size is not None and not (
            isinstance(size, (tuple, list)) and len(size) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in size)
        ):
            raise InvalidInputError(f"size must be (width, height) in whole pixels >= 1; got {size!r}")
        with timed("load", {}):
            painter = self._painter(request)
        if not isinstance(painter, DiffusersInpainter):
            raise InvalidInputError("generate needs a diffusers inpainting model as inpainter; got a custom filler")
        width, height = size or (painter.native_size, painter.native_size)
        with timed("generate", {}):
            pixels = painter.generate(request, width, height)
        result = PIL.Image.fromarray(pixels)
        result.info["seed"] = request.seed
        return result
