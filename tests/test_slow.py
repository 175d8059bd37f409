"""Real weights, when they are in the local Hugging Face cache; skipped otherwise (never downloads)."""

from __future__ import annotations

import numpy as np
import pytest
from huggingface_hub import try_to_load_from_cache

from textinpaint import Pipeline
from textinpaint.stages import STAGES


def cached(repo: str, filename: str) -> bool:
    return isinstance(try_to_load_from_cache(repo, filename), str)


DEFAULT_IDS = {stage: STAGES[stage].default_repo for stage in ("detector", "segmenter", "inpainter")}
HAVE_WEIGHTS = (
    cached(DEFAULT_IDS["detector"], "config.json")
    and cached(DEFAULT_IDS["segmenter"], "config.json")
    and cached(DEFAULT_IDS["inpainter"], "model_index.json")
)


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_WEIGHTS, reason=f"default weights not in the local cache: {sorted(DEFAULT_IDS.values())}")
def test_default_models_replace_a_drawn_object():
    image = np.full((384, 512, 3), 200, np.uint8)
    image[150:300, 180:330] = (220, 30, 30)  # a red square on grey
    edit = Pipeline().replace(image, "red square", "a green ball", seed=0, steps=20)
    assert edit.found and edit.image.size == (512, 384)
    x0, y0, x1, y1 = edit.detections.xyxy[0]
    assert abs(x0 - 180) < 20 and abs(y0 - 150) < 20 and abs(x1 - 330) < 20 and abs(y1 - 300) < 20
    np.testing.assert_array_equal(np.asarray(edit.image)[~edit.mask], image[~edit.mask])
