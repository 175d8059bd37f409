"""Every option is declared once; None means the model's default; backends declare what they can do."""

from __future__ import annotations

import dataclasses
import inspect
import typing

import pytest

import textinpaint
from textinpaint import InvalidInputError, Pipeline
from textinpaint import options as opts
from textinpaint.abilities import Abilities
from textinpaint.backends.flux import FluxInpainter
from textinpaint.workflows import COMMANDS, WORKFLOWS


def _typed_fields(args: type) -> dict[str, str]:
    hints = typing.get_type_hints(args, include_extras=False)
    return {name: str(hint) for name, hint in hints.items()}


def test_each_typed_dict_names_fields_of_the_option_groups_with_their_types():
    declared = {}
    for group in opts.GROUPS:
        hints = typing.get_type_hints(group)
        declared.update({f.name: str(hints[f.name]) for f in dataclasses.fields(group)})
    for flow in WORKFLOWS.values():
        typed = _typed_fields(flow.args)
        assert typed, flow.name
        for name, hint in typed.items():
            assert name in declared, (flow.name, name)
            assert hint == declared[name], (flow.name, name, hint, declared[name])


def test_every_option_has_one_line_of_help():
    docs = opts.option_docs()
    assert set(docs) == {f.name for g in opts.GROUPS for f in dataclasses.fields(g)}
    assert all(isinstance(text, str) and text and "\n" not in text for text in docs.values())


@pytest.mark.parametrize("name", list(WORKFLOWS))
def test_an_unknown_option_is_refused_with_the_workflows_own_list(name):
    flow = WORKFLOWS[name]
    with pytest.raises(InvalidInputError, match=rf"{name} takes no option 'colour'; its options are"):
        opts.split({"colour": 1}, flow.args, name)


def test_the_cli_offers_a_command_for_every_workflow_and_the_schema_lists_every_workflow():
    from textinpaint.interfaces.sidecars import schema

    assert set(schema()["properties"]["workflow"]["enum"]) == set(WORKFLOWS)
    assert {flow.name for flow in COMMANDS.values()} == set(WORKFLOWS)


def test_no_public_workflow_repeats_its_options_in_overloads():
    for flow in WORKFLOWS.values():
        parameters = inspect.signature(flow.function).parameters
        assert not set(parameters) & (opts.keywords(flow.args) - {"mask"}), flow.name


def test_module_functions_show_their_real_signature():
    shown = inspect.signature(textinpaint.replace)
    assert list(shown.parameters)[:3] == ["image", "find", "with_"]


@pytest.mark.parametrize(
    "options,message",
    [
        ({"negative_prompt": "blur"}, "FLUX.1 Fill takes no negative prompt; got negative_prompt='blur'"),
        ({"scheduler": "ddim"}, "FLUX.1 Fill samples with its own scheduler only; got scheduler='ddim'"),
        ({"fast": True}, "FLUX.1 Fill has no few-step mode here; got fast=True"),
    ],
)
def test_one_generic_check_refuses_what_the_painter_declares_it_cannot_do(options, message):
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        opts.resolve(opts.PaintOptions(**options), FluxInpainter.abilities)


def test_none_takes_the_painters_own_defaults_and_explicit_values_are_kept():
    flux = FluxInpainter.abilities
    assert opts.resolve(opts.PaintOptions(), flux).guidance == 30.0
    assert opts.resolve(opts.PaintOptions(guidance=7.5), flux).guidance == 7.5
    assert opts.resolve(opts.PaintOptions(), flux).negative_prompt == ""
    sd = Abilities(name="sd", fast=True)
    assert (
        opts.resolve(opts.PaintOptions(fast=True), sd).steps,
        opts.resolve(opts.PaintOptions(fast=True), sd).guidance,
    ) == (4, 1.0)
    assert opts.resolve(opts.PaintOptions(fast=True, steps=30 // 10), sd).steps == 3
    assert opts.resolve(opts.PaintOptions(fast=True, guidance=7.5), sd).guidance == 7.5
    with pytest.raises(InvalidInputError, match="fast=True paints in 1 to 8 steps"):
        opts.PaintOptions(fast=True, steps=30)


def test_abilities_are_read_from_the_backends_file_before_anything_loads():
    pipeline = Pipeline(inpainter="flux-fill", device="cpu")
    assert pipeline.abilities("inpainter") is FluxInpainter.abilities
    assert pipeline.loaded() == []
    assert Pipeline(inpainter="sdxl", device="cpu").family("inpainter") == "sdxl"
    assert Pipeline(inpainter="sdxl", device="cpu").source("controlnet") == "diffusers/controlnet-depth-sdxl-1.0"


@pytest.mark.parametrize("seed", [2**32, 2**32 + 5, -1, 2**63])
def test_a_seed_outside_32_bits_is_refused_so_two_seeds_never_mean_one_picture(seed):
    with pytest.raises(InvalidInputError, match=r"seed must be None or an integer in \[0, 2\*\*32\)"):
        opts.PaintOptions(seed=seed)


def test_the_apps_controls_take_their_help_from_the_option_declarations(tiny_models):
    pytest.importorskip("gradio", reason="the app extra (gradio) is not installed")
    from textinpaint.interfaces.app import build_app

    app = build_app(Pipeline(models=tiny_models, device="cpu"))
    by_id = {getattr(block, "elem_id", None): block for block in app.blocks.values()}
    docs = opts.option_docs()
    for elem_id, option in [
        ("replace-steps", "steps"),
        ("replace-box-threshold", "box_threshold"),
        ("replace-dilate", "dilate"),
    ]:
        assert by_id[elem_id].info == docs[option], elem_id
