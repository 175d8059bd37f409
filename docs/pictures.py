"""Draw the documentation's pictures from the library's own geometry (run: python docs/pictures.py).

The pictures show what each stage does on a synthetic scene; they need no model weights (the
cutout is a real run on tiny random-weight models written on the fly).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import supervision as sv
from PIL import Image, ImageDraw

from textinpaint import annotate
from textinpaint.inpainting import crop_window
from textinpaint.masks import auto_feather, blend_weights, bounding_box, distance_outside

HERE = Path(__file__).parent / "img"


def scene() -> tuple[Image.Image, np.ndarray]:
    image = Image.new("RGB", (640, 448), (170, 190, 210))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 300, 640, 448], fill=(90, 90, 95))
    draw.rectangle([180, 220, 420, 330], fill=(200, 30, 40))
    draw.ellipse([200, 305, 250, 355], fill=(20, 20, 20))
    draw.ellipse([350, 305, 400, 355], fill=(20, 20, 20))
    draw.rectangle([500, 120, 560, 330], fill=(60, 120, 60))
    car = np.zeros((448, 640), bool)
    car[220:331, 180:421] = True
    yy, xx = np.mgrid[0:448, 0:640]
    car |= ((xx - 225) ** 2 + (yy - 330) ** 2 <= 25**2) | ((xx - 375) ** 2 + (yy - 330) ** 2 <= 25**2)
    return image, car


def detection_picture(image: Image.Image, car: np.ndarray) -> Image.Image:
    tree = np.zeros_like(car)
    tree[120:331, 500:561] = True
    detections = sv.Detections(
        xyxy=np.array([[180, 220, 421, 356], [500, 120, 561, 331]], np.float32),
        mask=np.stack([car, tree]),
        confidence=np.array([0.83, 0.61], np.float32),
        class_id=np.array([0, 1]),
        data={"phrase": np.array(["the red car", "a tree"], dtype=object)},
    )
    return annotate(image, detections)


def geometry_picture(image: Image.Image, car: np.ndarray) -> Image.Image:
    dilation, feathering = 12, auto_feather(12)
    distance = distance_outside(car)
    weights = blend_weights(distance, dilation, feathering)
    pixels = np.asarray(image).astype(float)
    tint = np.zeros_like(pixels)
    tint[distance <= dilation] = (255, 140, 0)  # the dilated mask: fully repainted
    tint[car] = (220, 0, 0)  # SAM's mask
    band = (weights > 0) & (weights < 1)
    tint[band] = (255, 230, 0)  # the feather band: blended
    shown = np.where(tint.any(axis=2, keepdims=True), 0.35 * pixels + 0.65 * tint, pixels).astype(np.uint8)
    picture = Image.fromarray(shown)
    x0, y0, x1, y1 = bounding_box(distance < dilation + feathering + 1)
    window = crop_window((x0, y0, x1, y1), 640, 448, 512)
    ImageDraw.Draw(picture).rectangle(
        [window[0], window[1], window[2] - 1, window[3] - 1], outline=(0, 90, 255), width=3
    )
    return picture


def seam_picture(car: np.ndarray) -> Image.Image:
    seam = 8
    background = distance_outside(car) > seam
    weights = blend_weights(distance_outside(background), 0, seam - 1)
    return (
        Image.fromarray((weights * 255).astype(np.uint8)).crop((150, 190, 450, 380)).resize((600, 380), Image.NEAREST)
    )


def clicks_picture(image: Image.Image, car: np.ndarray) -> Image.Image:
    """Two clicks on the car and one off it (on the tree), and the object they mark: the app's
    own drawing of clicks over the library's annotation."""
    from textinpaint.interfaces.app import _marked

    clicked = sv.Detections(
        xyxy=np.array([[180, 220, 421, 356]], np.float32),
        mask=car[None],
        confidence=np.array([0.97], np.float32),
        class_id=np.array([0]),
        data={"phrase": np.array(["points"])},
    )
    return _marked(image, clicked, [(300, 260, 1), (225, 330, 1), (530, 200, 0)])


def cutout_picture() -> Image.Image:
    """A cutout made by the library itself, on tiny random-weight models (so the pictures are
    real runs of every step): a light, furry object on a dark ground; the trimap the matte stage
    is given; the RGBA cutout over a checkerboard; the input laid over a new ground by its alpha."""
    import tempfile

    from textinpaint import Pipeline
    from textinpaint.masks import alpha_blend, trimap
    from textinpaint.testing import write_tiny_models

    image = Image.new("RGB", (240, 200), (35, 40, 50))
    draw = ImageDraw.Draw(image)
    draw.ellipse([70, 50, 170, 150], fill=(225, 205, 170))
    for angle in np.linspace(0, 2 * np.pi, 90, endpoint=False):  # fur: thin strands past the edge
        inner, outer = 48, 48 + 14 + 8 * np.sin(5 * angle)
        draw.line(
            [
                (120 + inner * np.cos(angle), 100 + inner * np.sin(angle)),
                (120 + outer * np.cos(angle), 100 + outer * np.sin(angle)),
            ],
            fill=(235, 215, 180),
            width=1,
        )
    rgb = np.asarray(image)
    with tempfile.TemporaryDirectory() as folder:
        pipe = Pipeline(models=write_tiny_models(folder), device="cpu")
        edit = pipe.cutout(rgb)
        subject = pipe.salient(rgb).mask[0]
    alpha = edit.alpha
    band = trimap(subject, 6)
    rows, cols = np.indices(alpha.shape) // 10
    squares = ((rows + cols) % 2 * 60 + 160).astype(np.uint8)
    checker = np.repeat(squares[..., None], 3, axis=2)
    ground = np.zeros_like(rgb)
    ground[...] = np.linspace((40, 120, 200), (250, 190, 120), 200, dtype=np.uint8)[:, None, :]
    panels = [
        rgb,
        np.repeat(band[..., None], 3, axis=2),
        alpha_blend(rgb, checker, alpha),
        alpha_blend(rgb, ground, alpha),
    ]
    return Image.fromarray(
        np.concatenate([np.pad(p, ((0, 0), (0, 8), (0, 0)), constant_values=255) for p in panels], axis=1)
    )


def video_picture() -> Image.Image:
    """A strip drawn by the library: a synthetic clip of a red car crossing a street, its masks
    (given by colour here, as masks made elsewhere are given; each instance keeps its id and
    colour) drawn by supervision over frames 0, 3, 6, 9 and 12, and below them those frames after
    ``video.remove`` with those masks, frame by frame (tiny random-weight LaMa: the fill itself
    means nothing)."""
    import tempfile

    from textinpaint import Pipeline
    from textinpaint.testing import write_clip, write_tiny_models
    from textinpaint.videomasks import VideoMasksBuilder
    from textinpaint.videos import read_frames
    from textinpaint.workflows import video

    shown = (0, 3, 6, 9, 12)
    with tempfile.TemporaryDirectory() as folder:
        clip = write_clip(Path(folder) / "clip.mkv", frames=13, width=160, height=96, codec="ffv1", audio=False)
        frames = list(read_frames(clip))
        builder = VideoMasksBuilder(height=96, width=160, ids=[1], phrases=["the red car"])
        for frame in frames:
            red = (frame.rgb[..., 0] > 200) & (frame.rgb[..., 1] < 60) & (frame.rgb[..., 2] < 60)
            builder.add(frame.index, red[None], np.ones(1, np.float32))  # given masks: drawn as certain
        masks = builder.build()
        pipe = Pipeline(models=write_tiny_models(folder), device="cpu")
        edit = video.remove(pipe, clip, masks=masks, output=Path(folder) / "out.mkv", per_frame=True)
        removed = {f.index: f.rgb for f in read_frames(edit.output)}
    top, bottom = [], []
    for frame in frames:
        if frame.index not in shown:
            continue
        drawn = np.asarray(annotate(frame.rgb, masks.detections(frame.index)))
        top.append(np.pad(drawn, ((0, 6), (0, 6), (0, 0)), constant_values=255))
        bottom.append(np.pad(removed[frame.index], ((0, 6), (0, 6), (0, 0)), constant_values=255))
    return Image.fromarray(np.concatenate([np.concatenate(top, axis=1), np.concatenate(bottom, axis=1)], axis=0))


if __name__ == "__main__":
    HERE.mkdir(exist_ok=True)
    picture, car = scene()
    picture.save(HERE / "scene.png")
    detection_picture(picture, car).save(HERE / "detection.png")
    geometry_picture(picture, car).save(HERE / "geometry.png")
    seam_picture(car).save(HERE / "seam.png")
    clicks_picture(picture, car).save(HERE / "clicks.png")
    cutout_picture().save(HERE / "cutout.png")
    video_picture().save(HERE / "video.png")
    print("pictures written to", HERE)
