"""The two shipped topic profiles load, validate and carry the agreed vocabularies."""

from __future__ import annotations

from pathlib import Path

import pytest

from arxivfilter.config import Profile, load_profile, load_profiles

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ["llm-inference", "llm-systems"]
SYSTEMS_TAGS = {
    "serving", "training", "offline", "thinking", "RL", "MoE", "LoRA", "RAG", "video",
    "multi-modal", "sparse", "quantization", "offloading", "hardware", "storage", "kernel",
    "diffusion", "agentic", "edge", "networking",
}  # fmt: skip


def _load(name: str) -> Profile:
    return load_profile(ROOT / "config" / "profiles" / f"{name}.toml")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profile_validates(name: str) -> None:
    """Each shipped file passes config validation with a description, keywords and exclude."""
    profile = _load(name)
    assert profile.name == name
    assert profile.threshold == 70
    assert len(profile.description.split()) >= 40
    assert len(profile.keywords) >= 10
    assert len(set(profile.keywords)) == len(profile.keywords)
    assert profile.exclude
    if profile.examples_file is not None:  # liked examples ship beside the profile
        assert profile.path is not None
        assert (profile.path.parent / profile.examples_file).is_file()


@pytest.mark.parametrize("name", SHIPPED)
def test_tag_meanings_are_one_line(name: str) -> None:
    """Every tag has a non-empty one-line meaning."""
    for tag, meaning in _load(name).tags.items():
        assert tag and meaning.strip() and "\n" not in meaning, tag
        assert len(meaning) <= 120, tag


def test_systems_vocabulary_is_exact() -> None:
    """llm-systems has exactly the agreed twenty tags."""
    assert set(_load("llm-systems").tags) == SYSTEMS_TAGS


def test_inference_profile_covers_its_brief() -> None:
    """llm-inference names the frameworks and the I/O it is about, and has the core tags."""
    profile = _load("llm-inference")
    for word in ["vLLM", "TensorRT-LLM", "SGLang", "TGI", "llama.cpp", "PagedAttention",
                 "speculative decoding", "continuous batching", "KV cache", "NVMe", "RDMA",
                 "memory bandwidth", "interconnects", "data loading", "storage"]:  # fmt: skip
        assert word in profile.description, word
    assert {"serving", "kv-cache", "speculative-decoding", "batching", "quantization",
            "distributed", "hardware", "io"} <= set(profile.tags)  # fmt: skip


def test_shipped_profiles_are_found_from_any_directory() -> None:
    """load_profiles() finds both shipped profiles from an unrelated working directory."""
    names = [p.name for p in load_profiles()]
    assert set(SHIPPED) <= set(names)
    assert [p.name for p in load_profiles(SHIPPED)] == SHIPPED
