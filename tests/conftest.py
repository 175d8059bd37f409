"""Shared fixtures: offline guard, tiny models written once per session, stand-in fillers."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before any Hugging Face library reads it
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import math
import socket
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from textinpaint import Pipeline
from textinpaint.backends.detection import GroundingDino, _prompt, _token_spans
from textinpaint.inpainting import FillRequest
from textinpaint.testing import write_tiny_models


@pytest.fixture(autouse=True, scope="session")
def no_network():
    """Fail any attempt to reach the network; this machine's own loopback (the app test) stays allowed."""
    original = socket.socket.connect

    def guarded(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in ("127.0.0.1", "::1", "localhost"):
            raise RuntimeError(f"tests must not touch the network (tried to connect to {address!r})")
        return original(self, address)

    socket.socket.connect = guarded
    yield
    socket.socket.connect = original


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    return write_tiny_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def pipe(tiny_models):
    return Pipeline(models=tiny_models, device="cpu")


def noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@dataclass
class IdentityFiller:
    """Returns the crop it is given: any change in the output is geometry, not painting."""

    native_size: int = 64
    calls: list = field(default_factory=list)

    def __call__(self, crop, mask, request: FillRequest):
        self.calls.append((crop.shape, int(mask.sum()), request))
        return crop.copy()


@dataclass
class ConstantFiller:
    """Paints the whole crop one colour, so every changed pixel is visible."""

    colour: tuple = (255, 0, 255)
    native_size: int = 64
    calls: int = 0

    def __call__(self, crop, mask, request):
        self.calls += 1
        return np.broadcast_to(np.array(self.colour, np.uint8), crop.shape).copy()


class FailingFiller:
    native_size = 64

    def __call__(self, crop, mask, request):
        raise AssertionError("the filler must not run here")


class ScriptedDino(torch.nn.Module):
    """Stands in for GroundingDINO's network: returns chosen boxes and phrase scores.

    ``entries`` are ``(phrase_index, probability, (cx, cy, w, h))`` with normalised boxes; every
    token of that phrase gets the probability, all other tokens get almost none.
    """

    def __init__(self, tokenizer, phrases, entries, max_text_len=256):
        super().__init__()
        self.tokenizer, self.phrases, self.entries = tokenizer, phrases, entries
        self.config = SimpleNamespace(max_text_len=max_text_len)
        self.calls = []

    def forward(self, input_ids, **_):
        text = self.tokenizer.decode(input_ids[0], skip_special_tokens=True)
        self.calls.append(text)
        window = [p for p in self.phrases if p in text]
        prompt, spans = _prompt(window)
        offsets = self.tokenizer(prompt, return_offsets_mapping=True)["offset_mapping"]
        token_spans = _token_spans(offsets, spans)
        rows = [e for e in self.entries if self.phrases[e[0]] in window]
        batch = input_ids.shape[0]
        logits = torch.full((batch, max(len(rows), 1), self.config.max_text_len), -20.0)
        boxes = torch.full((batch, max(len(rows), 1), 4), 0.5)
        for q, (phrase, probability, box) in enumerate(rows):
            logits[:, q, token_spans[window.index(self.phrases[phrase])]] = math.log(probability / (1 - probability))
            boxes[:, q] = torch.tensor(box)
        return SimpleNamespace(logits=logits, pred_boxes=boxes)


def scripted_detector(tiny_models, phrases, entries, max_text_len=256):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_models / "detector")
    model = ScriptedDino(processor.tokenizer, phrases, entries, max_text_len)
    return GroundingDino(processor, model, torch.device("cpu"), torch.float32)


def open_settings(page):
    """Open every closed settings section of the tab in view (they start closed, to keep the main
    flow in one screen)."""
    page.locator(".label-wrap:visible").first.wait_for()
    headers = page.locator(".label-wrap:visible")
    for i in range(headers.count()):
        header = headers.nth(i)
        if "rotate(90deg)" in (header.locator(".icon").get_attribute("style") or ""):  # closed: the arrow points aside
            header.click()
