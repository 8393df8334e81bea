"""The built-in plugin: registers mspgt-bench's own components through the public hooks."""

from __future__ import annotations

from mspgt_bench.hookspecs import Register, hookimpl


@hookimpl
def register_model_adapters(register: Register) -> None:
    from mspgt_bench.models.hf import HFAdapter

    register("hf", HFAdapter)


@hookimpl
def register_offline_models(register: Register) -> None:
    from mspgt_bench.models.entries import builtin_entries

    for entry in builtin_entries():
        register(entry.name, entry)


@hookimpl
def register_signals(register: Register) -> None:
    from mspgt_bench.signals.angular import AngularDistance
    from mspgt_bench.signals.attention import AttentionSignal
    from mspgt_bench.signals.cka import CKASignal
    from mspgt_bench.signals.curvature import Curvature
    from mspgt_bench.signals.dataset_entropy import DatasetEntropy
    from mspgt_bench.signals.geometry import Geometry
    from mspgt_bench.signals.intrinsic_dimension import IntrinsicDimension
    from mspgt_bench.signals.logit_lens import LogitLens
    from mspgt_bench.signals.mutual_information import AdjacentMI
    from mspgt_bench.signals.probes import ScaleProbes
    from mspgt_bench.signals.prompt_entropy import PromptEntropy
    from mspgt_bench.signals.scale_sensitivity import ScaleSensitivity

    for signal in (
        LogitLens,
        AngularDistance,
        CKASignal,
        IntrinsicDimension,
        PromptEntropy,
        DatasetEntropy,
        AttentionSignal,
        Curvature,
        Geometry,
        AdjacentMI,
        ScaleSensitivity,
        ScaleProbes,
    ):
        register(signal.name, signal)


@hookimpl
def register_interventions(register: Register) -> None:
    from mspgt_bench.interventions.library import INTERVENTIONS

    for name, intervention in INTERVENTIONS.items():
        register(name, intervention)


@hookimpl
def register_detectors(register: Register) -> None:
    from mspgt_bench.detectors.plugins import BoundaryEvidence, ChangePoint, V1Rule

    for detector in (BoundaryEvidence, ChangePoint, V1Rule):
        register(detector.name, detector)


@hookimpl
def register_predictions(register: Register) -> None:
    from mspgt_bench.predictions.causal import BrittlenessRatio, ScaleSpecificity
    from mspgt_bench.predictions.contrast import ProfileContrast
    from mspgt_bench.predictions.cross_model import BoundaryCV
    from mspgt_bench.predictions.segments import BoundaryAgreement, BoundaryPosition, ExtremumInSegment, SegmentCount

    for prediction in (
        ProfileContrast,
        SegmentCount,
        BoundaryPosition,
        BoundaryAgreement,
        ExtremumInSegment,
        BoundaryCV,
        ScaleSpecificity,
        BrittlenessRatio,
    ):
        register(prediction.name, prediction)


@hookimpl
def register_stimulus_sources(register: Register) -> None:
    from mspgt_bench.stimuli.registry import SOURCES

    for name, source in SOURCES.items():
        register(name, source)
