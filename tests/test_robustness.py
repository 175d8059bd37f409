"""Threads, determinism, memory errors, odd masks and text: the library never surprises a caller."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from conftest import ConstantFiller, noise

from textinpaint import InvalidInputError, OutOfMemoryError, Pipeline, TextInpaintError


def test_four_threads_give_exactly_the_sequential_results(tiny_models):
    pipe = Pipeline(models=tiny_models, device="cpu")
    calls = [
        (noise(70, 90, seed=i), ["the red car", "a dog", "blue sky", "a cat"][i % 4], f"prompt {i}", 100 + i)
        for i in range(8)
    ]

    def edit(call):
        image, find, prompt, seed = call
        result = pipe.replace(image, find, prompt, seed=seed, steps=2, box_threshold=0.0, text_threshold=0.0)
        return np.asarray(result.image), result.detections.xyxy, result.mask

    sequential = [edit(call) for call in calls]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(edit, calls))
    for (image, boxes, mask), (expected_image, expected_boxes, expected_mask) in zip(concurrent, sequential):
        np.testing.assert_array_equal(image, expected_image)
        np.testing.assert_array_equal(boxes, expected_boxes)
        np.testing.assert_array_equal(mask, expected_mask)
    assert len({image.tobytes() for image, _, _ in sequential}) == len(calls), "the calls really differ"


def test_shared_scheduler_is_never_used_by_a_call(pipe):
    shared = pipe.inpainter.pipe.scheduler
    before = (shared.num_inference_steps, list(getattr(shared, "timesteps", [])))
    pipe.inpaint(noise(40, 40), np.ones((40, 40), bool), "a cat", steps=3, seed=0).image
    assert (shared.num_inference_steps, list(getattr(shared, "timesteps", []))) == before


def test_out_of_memory_becomes_a_typed_error_with_advice():
    class Greedy(ConstantFiller):
        def __call__(self, crop, mask, request):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    with pytest.raises(OutOfMemoryError, match="ran out of memory during inpaint: use a smaller image") as caught:
        Pipeline(inpainter=Greedy(), device="cpu").inpaint(noise(20, 20), np.ones((20, 20), bool), "x").image
    assert isinstance(caught.value, TextInpaintError) and isinstance(caught.value, MemoryError)
    assert isinstance(caught.value.__cause__, torch.OutOfMemoryError)


def test_a_mask_covering_everything_works_with_a_warning(caplog):
    filler = ConstantFiller()
    with caplog.at_level("WARNING", logger="textinpaint"):
        out = Pipeline(inpainter=filler, device="cpu").inpaint(noise(30, 30), np.ones((30, 30), bool), "a beach").image
    assert (np.asarray(out) == [255, 0, 255]).all() and "text-to-image" in caplog.text


@pytest.mark.parametrize("prompt", ["", "   ", None, 3])
def test_prompt_must_be_text(prompt):
    with pytest.raises(InvalidInputError, match="prompt must be a non-empty string"):
        Pipeline(inpainter=ConstantFiller(), device="cpu").inpaint(noise(8, 8), np.ones((8, 8), bool), prompt).image


def test_unicode_queries_and_prompts_work(pipe):
    phrases = ["voiture rouge", "赤い車", "🚗"]
    found = pipe.detect(noise(50, 60), phrases, box_threshold=0.0, text_threshold=0.0)
    assert len(found) > 0 and set(found.data["phrase"]) <= set(phrases)
    out = pipe.inpaint(noise(50, 60), np.ones((50, 60), bool), "一辆蓝色的卡车 🚚", steps=1, seed=0).image
    assert out.size == (60, 50)


def test_each_thread_gets_its_own_tokenizer_copy_once(pipe):
    from concurrent.futures import ThreadPoolExecutor

    from textinpaint.store import thread_copy

    tokenizer = pipe.inpainter.pipe.tokenizer
    mine = thread_copy(tokenizer)
    assert mine is not tokenizer and thread_copy(tokenizer) is mine
    with ThreadPoolExecutor(max_workers=1) as pool:
        theirs = pool.submit(thread_copy, tokenizer).result()
    assert theirs is not mine and theirs is not tokenizer
    assert mine("a red car").input_ids == tokenizer("a red car").input_ids


def test_threads_stay_correct_under_repetition_each_with_its_own_tokenizer(tiny_models, monkeypatch):
    import threading

    from textinpaint.backends import diffusion

    pipe = Pipeline(models=tiny_models, device="cpu")
    used = set()
    original = diffusion.call_copy

    def spy(*args, **kwargs):
        built = original(*args, **kwargs)
        used.add((threading.get_ident(), id(built.tokenizer)))
        return built

    monkeypatch.setattr(diffusion, "call_copy", spy)
    image, mask = noise(40, 48), np.ones((40, 48), bool)
    prompts = [f"prompt number {i} " * (1 + i % 5) for i in range(12)]  # different lengths stress the tokenizer
    expected = [np.asarray(pipe.inpaint(image, mask, p, steps=1, seed=i).image) for i, p in enumerate(prompts)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(
            pool.map(
                lambda ip: np.asarray(pipe.inpaint(image, mask, ip[1], steps=1, seed=ip[0]).image), enumerate(prompts)
            )
        )
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
    shared = id(pipe.inpainter.pipe.tokenizer)
    tokenizers = {}
    for thread, tokenizer in used:
        tokenizers.setdefault(thread, set()).add(tokenizer)
    assert len(tokenizers) >= 2 and all(len(t) == 1 for t in tokenizers.values()), "one tokenizer per thread"
    assert shared not in {t for ts in tokenizers.values() for t in ts}, "no call uses the shared tokenizer"
    assert len({next(iter(t)) for t in tokenizers.values()}) == len(tokenizers), "no two threads share one"
