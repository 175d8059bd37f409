"""Salient subjects without a prompt: rembg's ONNX sessions (U²-Net, IS-Net, BiRefNet, ...).

The model runs through rembg's own session class for its name (rembg's resizing, normalisation
and min-max scaling of the prediction), on onnxruntime: its CUDA provider on a CUDA device, the
CPU provider otherwise. Its answer is rembg's ``remove(..., only_mask=True)``: an HxW ``uint8``
soft mask at the input's size (255 = subject).

Where the weights live is rembg's business: a short name's source is ``rembg:NAME``, found in
rembg's model folder (``REMBG_HOME``, ``U2NET_HOME``, or ``~/.u2net``) and fetched there by
rembg's own download (``textinpaint download --stages subject``). A local ``.onnx`` file, or a
folder holding one, runs offline: a file named after a rembg model (``isnet-general-use.onnx``)
runs with that model's session, any other name with rembg's ``u2net_custom`` session (320 px,
ImageNet normalisation), as ``rembg -m u2net_custom`` would run it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import torch

from ..errors import MissingDependencyError, ModelKindError, WeightsNotFoundError
from ..stages import STAGES

# The prefix of a source that names a model in rembg's own folder (``rembg:birefnet-general``).
SCHEME = "rembg"
# The rembg sessions this stage runs (one soft mask of the salient foreground per picture): the
# model files the stage table's entry lists, by name.
SESSIONS = tuple(Path(name).stem for name in STAGES["subject"].backend("rembg").files if name != "model.onnx")
# A file of any other name runs as rembg runs a custom model file.
CUSTOM = "u2net_custom"
_INSTALL = "the subject stage runs on rembg: pip install 'textinpaint[subject]' (or 'textinpaint[subject-gpu]' on CUDA)"


def _rembg_sessions() -> dict[str, Any]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numba and pymatting announce themselves on import
            from rembg.sessions import sessions
    except ImportError as error:
        raise MissingDependencyError(f"{_INSTALL} ({error})") from None
    return sessions


@dataclass(frozen=True)
class SalientSubject:
    """A loaded rembg session: ``subject(rgb)`` is the soft mask of the salient foreground.

    Attributes:
        session: rembg's session object (its ``predict`` is stateless; onnxruntime's ``run`` is
            thread-safe, so one session serves several threads).
        name: the rembg session it runs as (``"u2netp"``, or ``"u2net_custom"`` for other files).
        file: the ``.onnx`` file.
    """

    session: Any
    name: str
    file: str

    # Where rembg downloads its weights from (for the reachability probe before a download).
    host = "github.com"

    @classmethod
    def load(cls, source: str, device: torch.device, dtype: torch.dtype) -> SalientSubject:
        """Open ``source`` (``rembg:NAME``, an ``.onnx`` file, or a folder holding one) in rembg's
        session for its name. ``dtype`` does not apply (the ONNX graph fixes it).

        Raises:
            MissingDependencyError: rembg is not installed.
            WeightsNotFoundError: the file is not on this machine.
            ModelKindError: the file is not an ONNX model with rembg's input and output.
        """
        import onnxruntime

        sessions = _rembg_sessions()
        file, name = _model_file(source)
        providers = ["CPUExecutionProvider"]
        if device.type == "cuda" and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        base = sessions[name]
        # rembg's session, reading our file (rembg itself would look in its own folder, or download).
        local = type(f"Local{base.__name__}", (base,), {"download_models": classmethod(lambda *a, **k: str(file))})
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # rembg's "fell back to the CPU" note
                session = local(name, onnxruntime.SessionOptions(), providers=providers, model_path=str(file))
        except Exception as error:  # onnxruntime's InvalidProtobuf, InvalidGraph, Fail...
            raise ModelKindError(
                f"subject={source!r}: {file} is not an ONNX model onnxruntime can open ({_first(error)})"
            ) from None
        inputs, outputs = session.inner_session.get_inputs(), session.inner_session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or not outputs or len(outputs[0].shape) != 4:
            shapes = [tuple(i.shape) for i in inputs], [tuple(o.shape) for o in outputs]
            raise ModelKindError(
                f"subject={source!r}: {file} is not a salient-object model (rembg runs one 1x3xHxW input to a "
                f"1x1xHxW mask); its inputs and outputs are {shapes}"
            )
        return cls(session, name, str(file))

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """The soft mask of an HxWx3 ``uint8`` picture: HxW ``uint8``, 255 = subject (rembg's
        ``remove(picture, session=..., only_mask=True)``). All zeros when the model sees nothing
        (a prediction with no contrast, which rembg's min-max scaling cannot stretch).

        Raises:
            ModelKindError: the model fails on its input (a file whose graph wants another size).
        """
        picture = PIL.Image.fromarray(np.ascontiguousarray(rgb[..., :3]))
        try:
            # rembg scales the prediction by its min and max: a flat one divides 0 by 0 (and would
            # be cast from NaN); numpy raises there instead, and nothing stands out.
            with np.errstate(divide="ignore", over="ignore", invalid="raise"):
                mask = self.session.predict(picture)[0]
        except FloatingPointError:
            return np.zeros(rgb.shape[:2], dtype=np.uint8)
        except Exception as error:  # onnxruntime's own errors: a graph that wants other shapes
            raise ModelKindError(
                f"the subject model {self.file} could not run as rembg's {self.name} session ({_first(error)})"
            ) from None
        alpha = np.asarray(mask.convert("L"), dtype=np.uint8).reshape(rgb.shape[:2])
        return alpha

    @classmethod
    def locate(cls, source: str) -> Path | None:
        """The file of ``rembg:NAME`` in rembg's model folder, or None when it is not downloaded."""
        name = _scheme_name(source)
        found = _rembg_sessions()[name].resolve_existing(f"{name}.onnx")
        return None if found is None else Path(found)

    @classmethod
    def fetch(cls, source: str) -> Path:
        """Download ``rembg:NAME`` where rembg keeps it (rembg's own download, checksum included)."""
        name = _scheme_name(source)
        try:
            return Path(_rembg_sessions()[name].download_models())
        except Exception as error:  # pooch's HTTP and checksum errors
            raise WeightsNotFoundError("subject", source, f"rembg's download failed: {_first(error)}") from None


def _scheme_name(source: str) -> str:
    name = source.removeprefix(f"{SCHEME}:")
    if name not in SESSIONS:
        raise ModelKindError(f"subject={source!r} names no rembg model this stage runs; it runs {', '.join(SESSIONS)}")
    return name


def _model_file(source: str) -> tuple[Path, str]:
    """The ``.onnx`` file of ``source`` and the rembg session it runs as."""
    if source.startswith(f"{SCHEME}:"):
        name = _scheme_name(source)
        found = SalientSubject.locate(source)
        if found is None:
            raise WeightsNotFoundError(
                "subject", source, "not downloaded to rembg's model folder (textinpaint download --stages subject)"
            )
        return found, name
    path = Path(source)
    if path.is_dir():
        files = sorted(path.glob("*.onnx"))
        known = [f for f in files if f.stem in SESSIONS]
        if not files:
            raise WeightsNotFoundError("subject", source, "the folder holds no .onnx file")
        if len(files) > 1 and not known:
            raise ModelKindError(f"subject={source!r} holds several .onnx files; give the one to run")
        path = (known or files)[0]
    if not path.is_file():
        raise WeightsNotFoundError("subject", source, "no such file")
    return path, path.stem if path.stem in SESSIONS else CUSTOM


def _first(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0][:300]}" if text else type(error).__name__


def write_tiny(folder: Path, *, seed: int) -> Path:
    """A tiny salient-object network with rembg's signature (1x3xHxW float in, 1x1xHxW out, any
    size), as ``folder/NAME.onnx``: NAME is the folder's name when that is a rembg model (the zoo's
    ``birefnet-general``), else ``u2netp``. Two 3x3 convolutions and a sigmoid, weights from
    ``seed``, all positive: brighter reads as more salient, so a light object on a dark ground is
    its subject (a picture for tests whose answer is known).

    Needs the ``onnx`` package (in the ``subject`` extra).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    folder.mkdir(parents=True, exist_ok=True)
    name = folder.name if folder.name in SESSIONS else "u2netp"
    draw = np.random.default_rng(seed)
    weights = {
        "w1": np.abs(draw.normal(0, 0.5, (4, 3, 3, 3))).astype(np.float32),
        "b1": draw.normal(0, 0.1, (4,)).astype(np.float32),
        "w2": np.abs(draw.normal(0, 0.5, (1, 4, 3, 3))).astype(np.float32),
        "b2": np.zeros((1,), np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["h"], pads=[1, 1, 1, 1]),
        helper.make_node("Tanh", ["h"], ["t"]),
        helper.make_node("Conv", ["t", "w2", "b2"], ["logits"], pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["logits"], ["mask"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-salient",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "height", "width"])],
        [helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, "height", "width"])],
        [numpy_helper.from_array(value, key) for key, value in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by every onnxruntime rembg supports
    onnx.checker.check_model(model)
    target = folder / f"{name}.onnx"
    onnx.save(model, str(target))
    return target
