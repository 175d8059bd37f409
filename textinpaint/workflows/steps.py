"""The steps every workflow shares: load the inputs, find the regions, paint them, record the edit.

Each workflow file (:mod:`textinpaint.workflows`) reads top to bottom as numbered calls of these
steps. They use only the pipeline's public surface: its stage models and its settings.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, cast

import numpy as np
import supervision as sv

from ..backends.detection import empty_detections, parse_phrases, with_query_ids
from ..container import Models, clicked_detections
from ..errors import InvalidInputError, NothingFoundError
from ..events import timed
from ..images import ImageInput, Picture, load_image
from ..inpainting import Filler, FillRequest, Painted, PaintJob, draw_seed, paint_many
from ..masks import auto_dilation, auto_feather, box_mask, union
from ..options import CheckOptions, FindOptions, PaintOptions, check_inside, check_on_object, check_seeds, resolve
from ..results import Edit, Record, later, later_picture
from ..verify import VERIFY_THRESHOLD, Candidate, Check, Verification, check_edits, rank

logger = logging.getLogger(__name__)


class Found(NamedTuple):
    """What a query matched in one picture, and the region to repaint."""

    detections: sv.Detections
    selected: list[int]
    region: np.ndarray | None  # None when nothing matched


# ---- step 1: inputs -------------------------------------------------------------------------


# Threads decoding the files of a list (see load_pictures).
_DECODERS = 2


def load_pictures(pipeline: Models, image: ImageInput | Sequence[ImageInput]) -> tuple[list[Picture], bool]:
    """Every input loaded and checked before any work; and whether a list was given."""
    batch = isinstance(image, (list, tuple))
    images = list(cast(Sequence[ImageInput], image)) if batch else [cast(ImageInput, image)]
    if batch and not images:
        raise InvalidInputError("image must be an image or a non-empty list of images; got an empty list")
    if len(images) == 1:
        return [load_image(images[0], max_pixels=pipeline.max_pixels)], batch
    # Decoders release the GIL: two threads decode a list of files in about half the time. The
    # first failure in the list's order is raised, as a loop would.
    with ThreadPoolExecutor(_DECODERS, thread_name_prefix="textinpaint-decode") as pool:
        return list(pool.map(functools.partial(load_image, max_pixels=pipeline.max_pixels), images)), batch


def seeds_for(painting: PaintOptions, count: int) -> list[int | None]:
    """One seed per image: the one given for all, a list of one per image, or None (each draws its own)."""
    given = painting.seed
    check_seeds(given)
    if isinstance(given, (list, tuple)):
        if len(given) != count:
            raise InvalidInputError(f"seed must be one integer, or a list of {count} (one per image); got {given!r}")
        return [None if one is None else int(one) for one in given]
    return [None if given is None else int(cast(int, given))] * count


def fill_requests(painting: PaintOptions, prompt: str, count: int) -> list[FillRequest]:
    """One request per image for ``prompt`` under resolved ``painting`` (see :func:`paint_settings`),
    each with its seed: the given one, or a freshly drawn one."""
    from ..options import check_text

    check_text("prompt", prompt)
    return [
        FillRequest(
            prompt,
            cast(str, painting.negative_prompt),  # resolved: never None here
            int(cast(int, painting.steps)),
            float(cast(float, painting.guidance)),
            float(painting.strength),
            draw_seed() if one is None else one,
            painting.scheduler,
            painting.refine,
            None if painting.upscale is None else int(painting.upscale),
            painting.fast,
        )
        for one in seeds_for(painting, count)
    ]


# ---- step 2: find ---------------------------------------------------------------------------


def find_regions(
    pipeline: Models, pictures: list[Picture], find: object, options: FindOptions, timings: dict[str, float]
) -> list[Found]:
    """Detect (one pass per image size), segment in mask mode (one SAM encoder pass), select;
    with ``options.points``, the clicks refine the one selected match, or (no ``find``) mark the
    object on their own."""
    if options.points is not None:
        if len(pictures) != 1:
            raise InvalidInputError(
                f"points are clicks on one image; got a list of {len(pictures)} images (edit them one by one)"
            )
        check_inside(options.points, pictures[0].width, pictures[0].height)
        if find is None:
            check_on_object(options.labels)
            return [clicked_region(pipeline, pictures[0], options, timings)]
    phrases = parse_phrases(find)  # type: ignore[arg-type]  # parse_phrases checks the type itself
    with timed("load", timings):
        detector = pipeline.detector
    with timed("detect", timings):
        found = detector.detect_many(
            pictures,
            phrases,
            box_threshold=options.box_threshold,
            text_threshold=options.text_threshold,
            nms_iou=options.nms_iou,
        )
    found = [with_query_ids(detections, find) for detections in found]  # type: ignore[arg-type]  # parse_phrases checked it
    empty = [i for i, detections in enumerate(found) if len(detections) == 0]
    if options.strict and empty:
        best = found[empty[0]].metadata.get("best_score")
        raise NothingFoundError(" . ".join(phrases), best, options.box_threshold)
    # A detector that cuts out what it finds (SAM 3) gives masks already: the segmenter is skipped.
    unmasked = [i for i, detections in enumerate(found) if len(detections) and detections.mask is None]
    if options.mask_mode == "mask" and unmasked:
        with timed("load", timings):
            segmenter = pipeline.segmenter
        with timed("segment", timings):
            masks = segmenter.masks_many(
                [pictures[i] for i in unmasked], [found[i].xyxy.astype(np.float64) for i in unmasked]
            )
        for i, stack in zip(unmasked, masks):
            found[i].mask = stack
    results = []
    for picture, detections in zip(pictures, found):
        if len(detections) == 0:
            logger.info("nothing matching %r was found; the image is returned unchanged", phrases)
            sized = options.mask_mode == "mask"
            nothing = empty_detections(picture.height, picture.width) if sized else empty_detections()
            nothing.metadata = dict(detections.metadata)
            results.append(Found(nothing, [], None))
            continue
        selected = options.select_indices(detections)
        if options.points is not None and detections.mask is not None:
            refine(pipeline, picture, detections, selected, options, timings)
        if options.mask_mode == "mask" and detections.mask is not None:
            region = union(detections.mask, selected)
        else:
            region = box_mask(detections.xyxy[selected], picture.width, picture.height)
        results.append(Found(detections, selected, region))
    return results


def salient_regions(
    pipeline: Models, pictures: list[Picture], options: FindOptions, timings: dict[str, float]
) -> list[Found]:
    """The salient subject of each picture, found without a prompt (the ``subject`` stage); with
    ``options.strict``, a picture where nothing stands out raises :class:`NothingFoundError`."""
    from ..container import subject_detections

    with timed("load", timings):
        model = pipeline.model("subject")
    results = []
    for picture in pictures:
        with timed("subject", timings):
            detections = subject_detections(model(picture.rgb))
        if len(detections) == 0:
            if options.strict:
                raise NothingFoundError("the salient subject", None, None)
            logger.info("nothing stands out in the picture: no subject")
            results.append(Found(detections, [], None))
        else:
            results.append(Found(detections, [0], detections.mask[0]))
    return results


def subject_alphas(
    pipeline: Models,
    pictures: list[Picture],
    found: list[Found],
    soften: bool,
    band: int | None,
    timings: dict[str, float],
) -> list[np.ndarray | None]:
    """Each subject's HxW ``uint8`` alpha: its edge matted when ``soften`` (the ``matte`` stage),
    else the salient model's own soft mask (as rembg gives it) or the hard mask; None where
    nothing was found."""
    alphas: list[np.ndarray | None] = []
    for picture, one in zip(pictures, found):
        if one.region is None:
            alphas.append(None)
        elif soften:
            with timed("matte", timings):
                alphas.append(pipeline.matte(picture, one.region, band=band))
        elif "alpha" in one.detections.data and one.selected == [0]:
            alphas.append(np.asarray(one.detections.data["alpha"][0], dtype=np.uint8))
        else:
            alphas.append(np.where(one.region, np.uint8(255), np.uint8(0)))
    return alphas


def matte_wanted(pipeline: Models, matte: object) -> bool:
    """Whether edges are matted: as asked (True or ``"vitmatte"``; False), or with None, when the
    matting model is on this machine (said in the sidecar as the value used)."""
    if matte is None:
        return pipeline.available("matte")
    return bool(matte)


def clicked_region(pipeline: Models, picture: Picture, options: FindOptions, timings: dict[str, float]) -> Found:
    """The object the clicks mark, cut out by SAM alone: one detection (the mask's box, SAM's
    predicted IoU as confidence, phrase ``"points"``)."""
    from ..backends.segmentation import Prompt

    with timed("load", timings):
        segmenter = pipeline.segmenter
    with timed("segment", timings):
        masks, scores = segmenter.prompted(
            picture, [Prompt(points=np.asarray(options.points), labels=np.asarray(options.labels))]
        )
    if not masks[0].any():
        logger.info("the clicked points cut out nothing; the image is returned unchanged")
        return Found(empty_detections(picture.height, picture.width), [], None)
    detections = clicked_detections(masks, scores)
    return Found(detections, [0], masks[0])


def refine(
    pipeline: Models,
    picture: Picture,
    detections: sv.Detections,
    selected: list[int],
    options: FindOptions,
    timings: dict[str, float],
) -> None:
    """Replace the selected match's mask by SAM's answer to its box and the clicks together."""
    from ..backends.segmentation import Prompt

    if len(selected) != 1:
        raise InvalidInputError(
            f"points refine one match; select picked {len(selected)} of {len(detections)} "
            "(use select='best' or an index)"
        )
    box = detections.xyxy[selected[0]].astype(np.float64)
    with timed("segment", timings):
        masks, _ = pipeline.segmenter.prompted(
            picture, [Prompt(box=box, points=np.asarray(options.points), labels=np.asarray(options.labels))]
        )
    stack = np.array(detections.mask, dtype=bool)
    stack[selected[0]] = masks[0]
    detections.mask = stack


# ---- step 3: paint --------------------------------------------------------------------------


def painter(pipeline: Models, options: PaintOptions, *, control: bool = False) -> Filler:
    """The inpainter, with what ``options`` ask for attached (the upscaler, the few-step LoRA, and
    with ``control`` the depth ControlNet), as far as the painter declares it takes them."""
    inpainter = pipeline.inpainter
    able = pipeline.abilities("inpainter")
    extras: dict[str, Any] = {}
    if options.upscale and able.upscale:
        extras["upscaler"] = pipeline.upscaler
    if options.fast and able.fast:
        extras["fast"] = pipeline.model("fast")
    attach = getattr(inpainter, "with_extras", None)
    if control and able.control and attach is not None:
        extras["controlnet"] = pipeline.controlnet  # a library painter paints through the ControlNet
    return attach(**extras) if extras and attach is not None else inpainter


def paint_settings(pipeline: Models, options: PaintOptions, *, control: bool = False) -> PaintOptions:
    """``options`` checked against what the inpainter declares it can do, with None filled from
    its own defaults (steps, guidance, negative prompt), before any work (loads no model)."""
    return resolve(options, pipeline.abilities("inpainter"), control=control)


def paint_regions(
    pictures: list[Picture],
    regions: list[np.ndarray],
    make_painter: Callable[[], Filler],
    requests: list[FillRequest],
    options: PaintOptions,
    timings: dict[str, float],
    stage: str = "inpaint",
    feathers: Sequence[int] | None = None,
) -> list[Painted]:
    """Blend ``make_painter()``'s fill of each region into its picture; crops of the same size are
    painted together. The painter is loaded only when some region is not empty. ``feathers``
    overrides ``options.feather`` per picture."""
    results: list[Painted | None] = [None] * len(pictures)
    jobs, where = [], []
    for i, (picture, region, request) in enumerate(zip(pictures, regions, requests)):
        dilation = auto_dilation(picture.width, picture.height) if options.dilate is None else int(options.dilate)
        feathering = auto_feather(dilation) if options.feather is None else int(options.feather)
        if feathers is not None:
            feathering = feathers[i]
        if region.any():
            jobs.append(PaintJob(picture.rgb, region, request, dilation, feathering))
            where.append(i)
        else:
            results[i] = Painted(picture.rgb, region, None, dilation, feathering)
    if jobs:
        with timed("load", timings):
            filler = make_painter()
        with timed(stage, timings):
            for i, painted in zip(where, paint_many(jobs, filler)):
                results[i] = painted
    return [r for r in results if r is not None]


def paint_found(
    pictures: list[Picture],
    found: list[Found],
    make_painter: Callable[[], Filler],
    requests: list[FillRequest],
    options: PaintOptions,
    timings: dict[str, float],
    stage: str = "inpaint",
    feathers: Sequence[int] | None = None,
) -> dict[int, Painted]:
    """:func:`paint_regions` over the pictures where something was found, by picture index."""
    hit = [i for i, f in enumerate(found) if f.region is not None]
    regions = [region for region in (f.region for f in found) if region is not None]
    painted = paint_regions(
        [pictures[i] for i in hit],
        regions,
        make_painter,
        [requests[i] for i in hit],
        options,
        timings,
        stage,
        None if feathers is None else [feathers[i] for i in hit],
    )
    return dict(zip(hit, painted))


# ---- best of N, and checking the edit -------------------------------------------------------


# Set by replay: picture index -> the candidate a best-of-N edit kept, so it is made again
# without the search (the same batched run, no verification of the others).
chosen_candidate: contextvars.ContextVar[dict[int, int] | None] = contextvars.ContextVar(
    "textinpaint_chosen_candidate", default=None
)


@contextmanager
def choosing(chosen: dict[int, int]) -> Iterator[None]:
    """Keep candidate ``chosen[i]`` of picture ``i`` (0 for others) instead of searching."""
    token = chosen_candidate.set(dict(chosen))
    try:
        yield
    finally:
        chosen_candidate.reset(token)


class Checked(NamedTuple):
    """The candidate kept for one picture: its index, its verification, and every candidate."""

    chosen: int
    verification: Verification | None
    candidates: list[Candidate]


def candidate_requests(requests: list[FillRequest], tries: int) -> list[FillRequest]:
    """``tries`` requests per request, with seeds ``seed``, ``seed + 1``, ... (mod 2**32), picture by picture."""
    return [dataclasses.replace(r, seed=(r.seed + k) % 2**32) for r in requests for k in range(tries)]


def paint_candidates(
    pictures: list[Picture],
    found: list[Found],
    make_painter: Callable[[], Filler],
    requests: list[FillRequest],
    options: PaintOptions,
    timings: dict[str, float],
    tries: int,
    stage: str = "inpaint",
    feathers: Sequence[int] | None = None,
) -> dict[int, list[Painted]]:
    """:func:`paint_found` with ``tries`` candidates per picture, all in the same batched run
    (candidates of one picture share the crop size, so they go through the UNet together)."""
    painted = paint_found(
        [p for p in pictures for _ in range(tries)],
        [f for f in found for _ in range(tries)],
        make_painter,
        candidate_requests(requests, tries),
        options,
        timings,
        stage,
        None if feathers is None else [band for band in feathers for _ in range(tries)],
    )
    return {i: [painted[i * tries + k] for k in range(tries)] for i in range(len(pictures)) if i * tries in painted}


def keep_best(
    pipeline: Models,
    candidates: dict[int, list[Painted]],
    seeds: Sequence[int],
    checking: CheckOptions,
    check_for: Callable[[int, Painted], Check],
    texts: dict[str, Any],
    nms_iou: float,
    timings: dict[str, float],
) -> tuple[dict[int, Painted], dict[int, Checked]]:
    """Pick each picture's candidate: verify every one (one detector call per text over all of
    them) and keep the best (the lowest seed among equals); under :func:`choosing`, the recorded
    one, verifying only it. Without checking, the only candidate is kept unverified."""
    chosen_map = chosen_candidate.get()

    def looked_at(i: int) -> list[int]:
        if chosen_map is not None:
            return [chosen_map.get(i, 0)]
        return list(range(len(candidates[i]))) if checking.active else [0]

    to_check = [(i, k) for i in candidates for k in looked_at(i)] if checking.active else []
    verdicts: dict[tuple[int, int], Verification] = {}
    if to_check:

        def detect(pictures: list[Picture], phrases: list[str]) -> list[sv.Detections]:
            return pipeline.detector.detect_many(
                pictures, phrases, box_threshold=VERIFY_THRESHOLD, text_threshold=VERIFY_THRESHOLD, nms_iou=nms_iou
            )

        with timed("verify", timings):
            checks = [check_for(i, candidates[i][k]) for i, k in to_check]
            verdicts = dict(zip(to_check, check_edits(detect, checks, **texts)))
    kept: dict[int, Painted] = {}
    checked: dict[int, Checked] = {}
    for i, options in candidates.items():
        if chosen_map is not None:
            best = chosen_map.get(i, 0)
            if not 0 <= best < len(options):
                raise InvalidInputError(f"the recorded candidate {best} is not among the {len(options)} tries")
        else:
            best = max(looked_at(i), key=lambda k: (rank(verdicts.get((i, k))), -k))
        scores = [None if (v := verdicts.get((i, k))) is None else v.score for k in range(len(options))]
        every = [Candidate((seeds[i] + k) % 2**32, score) for k, score in enumerate(scores)]
        kept[i] = options[best]
        checked[i] = Checked(best, verdicts.get((i, best)), every)
    return kept, checked


def check_texts(pipeline: Models, checking: CheckOptions, texts: dict[str, Any]) -> None:
    """Before any work: every text the detector will read (``find``, and under verification
    ``with_`` and ``keep`` too) fits its text window; a typed error names the argument."""
    wanted = {name: value for name, value in texts.items() if value and (checking.active or name != "with_")}
    if not wanted:
        return
    with timed("load", {}):
        check = getattr(pipeline.detector, "check_phrases", None)
    if check is None:
        return
    for name, value in wanted.items():
        check([" ".join(value.split())] if isinstance(value, str) else list(value), name)


def target_boxes(found: Found) -> np.ndarray:
    """The boxes (xyxy, float64) of the selected instances, or of the whole region when none."""
    if found.selected:
        return np.asarray(found.detections.xyxy, dtype=np.float64)[found.selected].reshape(-1, 4)
    return region_box(found.region)


def region_box(region: np.ndarray | None) -> np.ndarray:
    """The bounding box (1x4 xyxy) of a mask's True pixels."""
    if region is None or not region.any():
        return np.zeros((0, 4))
    ys, xs = np.nonzero(region)
    return np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], dtype=np.float64)


# ---- step 4: record -------------------------------------------------------------------------


def record(
    pipeline: Models,
    workflow: str,
    parameters: dict[str, Any],
    stages: Sequence[str],
    picture: Picture | None,
    *,
    mask: np.ndarray | None = None,
    batch: dict[str, Any] | None = None,
    candidate: int | None = None,
) -> Record:
    """The :class:`~textinpaint.results.Record` of one edit (the upscaler among its models when used)."""
    if parameters.get("upscale"):
        stages = (*stages, "upscaler")
    if parameters.get("fast"):
        stages = (*stages, "fast")
    if "segmenter" in stages and parameters.get("points") is None and pipeline.detector_gives_masks():
        stages = tuple(stage for stage in stages if stage != "segmenter")  # not used: the detector cut out
    return Record(
        workflow,
        parameters,
        pipeline.model_sources(*stages) if stages else {},
        str(pipeline.device),
        str(pipeline.dtype).replace("torch.", ""),
        None if picture is None else picture.path,
        mask,
        batch,
        candidate,
    )


def batch_record(pictures: list[Picture], seeds: Sequence[int | None], index: int) -> dict[str, Any] | None:
    """How one edit of a list was made with the others (None for a list of one: it equals the single call)."""
    if len(pictures) < 2:
        return None
    paths = [None if p.path is None else str(Path(p.path).resolve()) for p in pictures]
    return {"index": index, "inputs": paths, "seeds": list(seeds)}


def assemble(
    pipeline: Models,
    workflow: str,
    stages: Sequence[str],
    pictures: list[Picture],
    found: list[Found],
    painted: dict[int, Painted],
    seeds: Sequence[int | None],
    parameters: dict[str, Any],
    timings: dict[str, float],
    masks: Sequence[np.ndarray] | None = None,
    checked: dict[int, Checked] | None = None,
    min_score: float | None = None,
) -> list[Edit]:
    """One :class:`~textinpaint.Edit` per picture, each with its record (and the mask the user
    gave); with ``checked``, the kept candidate's seed, its verification, the other candidates,
    and whether it scored below ``min_score``."""
    edits = []
    for i, (picture, result) in enumerate(zip(pictures, found)):
        check = (checked or {}).get(i)
        several = check is not None and len(check.candidates) > 1
        note = record(
            pipeline,
            workflow,
            {**parameters, "seed": seeds[i]},
            stages,
            picture,
            mask=None if masks is None else masks[i],
            batch=batch_record(pictures, seeds, i),
            candidate=check.chosen if check is not None and several else None,
        )
        if i not in painted:
            edits.append(unchanged_edit(picture, result, seeds[i], timings, note))
            continue
        seed = check.candidates[check.chosen].seed if check is not None and several else seeds[i]
        edit = painted_edit(picture, result, painted[i], seed, timings, note)
        if check is not None:
            edit.verification = check.verification
            edit.candidates = [c for k, c in enumerate(check.candidates) if k != check.chosen]
            score = None if check.verification is None else check.verification.score
            edit.flagged = min_score is not None and score is not None and score < min_score
        edits.append(edit)
    return edits


def unchanged_edit(picture: Picture, found: Found, used: int | None, timings: dict[str, float], note: Record) -> Edit:
    nothing = np.zeros((picture.height, picture.width), dtype=bool)
    return Edit(
        later_picture(picture), nothing, found.detections, [], used, False, timings, later_picture(picture), note
    )


def painted_edit(
    picture: Picture, found: Found, painted: Painted, used: int | None, timings: dict[str, float], note: Record
) -> Edit:
    # Both images are made on first use (see Edit): a caller who writes the file or reads the mask
    # never pays for a full-size PIL image it does not need.
    return Edit(
        later(functools.partial(picture.to_pil, painted.base, patch=painted.patch, box=painted.box)),
        painted.changed,
        found.detections,
        found.selected,
        used,
        True,
        timings,
        later_picture(picture),
        note,
    )
