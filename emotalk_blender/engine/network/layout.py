"""The EmoTalk weight layout without torch: every tensor's name and shape for a configuration.

The torch loader (``checkpoint.py``) and the NumPy backend check files against the same table, with
the same strictness and the same messages; the table itself is tested against ``model.EmoTalk``.
"""
from __future__ import annotations

import json

from ..arkit import NUM_BLENDSHAPES
from .config import EmoTalkConfig, Wav2Vec2Config
from ..constants import EMOTIONS, NUM_LEVELS, NUM_PERSONS
from ..errors import CheckpointError

OWN_FORMAT = "emotalk-blender/1"  # our files: {"format", "config", "state_dict", "meta"}

# Newer torch names a weight-normalised conv's g and v differently; we store the released names.
_RENAMES = {
    "parametrizations.weight.original0": "weight_g",
    "parametrizations.weight.original1": "weight_v",
}


def canonical_key(key: str) -> str:
    """The released name of a key: no ``module.`` wrapper, weight-norm as ``weight_g``/``weight_v``."""
    key = key[len("module."):] if key.startswith("module.") else key
    for newer, released in _RENAMES.items():
        key = key.replace(newer, released)
    return key


def _linear(out: dict, name: str, n_in: int, n_out: int) -> None:
    out[f"{name}.weight"] = (n_out, n_in)
    out[f"{name}.bias"] = (n_out,)


def _norm(out: dict, name: str, n: int) -> None:
    out[f"{name}.weight"] = (n,)
    out[f"{name}.bias"] = (n,)


def wav2vec2_shapes(cfg: Wav2Vec2Config, prefix: str = "") -> dict[str, tuple[int, ...]]:
    """Names and shapes of one wav2vec2 encoder (``wav2vec2.Wav2Vec2Model``)."""
    out: dict[str, tuple[int, ...]] = {f"{prefix}masked_spec_embed": (cfg.hidden_size,)}
    c_in = (1,) + tuple(cfg.conv_dim[:-1])
    for i, (ci, co, k) in enumerate(zip(c_in, cfg.conv_dim, cfg.conv_kernel)):
        p = f"{prefix}feature_extractor.conv_layers.{i}"
        out[f"{p}.conv.weight"] = (co, ci, k)
        out[f"{p}.conv.bias"] = (co,)
        _norm(out, f"{p}.layer_norm", co)
    h = cfg.hidden_size
    _norm(out, f"{prefix}feature_projection.layer_norm", cfg.conv_dim[-1])
    _linear(out, f"{prefix}feature_projection.projection", cfg.conv_dim[-1], h)
    p = f"{prefix}encoder.pos_conv_embed.conv"
    out[f"{p}.weight_g"] = (1, 1, cfg.pos_conv_kernel)
    out[f"{p}.weight_v"] = (h, h // cfg.pos_conv_groups, cfg.pos_conv_kernel)
    out[f"{p}.bias"] = (h,)
    _norm(out, f"{prefix}encoder.layer_norm", h)
    for i in range(cfg.num_layers):
        p = f"{prefix}encoder.layers.{i}"
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            _linear(out, f"{p}.attention.{proj}", h, h)
        _norm(out, f"{p}.layer_norm", h)
        _linear(out, f"{p}.feed_forward.intermediate_dense", h, cfg.ffn_size)
        _linear(out, f"{p}.feed_forward.output_dense", cfg.ffn_size, h)
        _norm(out, f"{p}.final_layer_norm", h)
    if cfg.lm_head_vocab:
        _linear(out, f"{prefix}lm_head", h, cfg.lm_head_vocab)
    return out


def expected_shapes(cfg: EmoTalkConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor of ``model.EmoTalk(cfg)``'s state_dict, name -> shape."""
    out = wav2vec2_shapes(cfg.content, "audio_encoder_cont.")
    out.update(wav2vec2_shapes(cfg.emotion, "audio_encoder_emo.wav2vec2."))
    h = cfg.emotion.hidden_size
    _linear(out, "audio_encoder_emo.classifier.dense", h, h)
    _linear(out, "audio_encoder_emo.classifier.out_proj", h, len(EMOTIONS))
    _linear(out, "audio_feature_map_cont", cfg.content.hidden_size, cfg.content_dim)
    _linear(out, "audio_feature_map_emo", h, cfg.emotion_dim)
    _linear(out, "audio_feature_map_emo2", cfg.emotion_dim, cfg.emotion2_dim)
    _linear(out, "obj_vector_level", NUM_LEVELS, cfg.level_dim)
    _linear(out, "obj_vector_person", NUM_PERSONS, cfg.person_dim)
    d = cfg.emotion_dim
    p = "transformer_decoder.layers.0"
    for attn in ("self_attn", "multihead_attn"):
        out[f"{p}.{attn}.in_proj_weight"] = (3 * d, d)
        out[f"{p}.{attn}.in_proj_bias"] = (3 * d,)
        _linear(out, f"{p}.{attn}.out_proj", d, d)
    _linear(out, f"{p}.linear1", d, cfg.decoder_ffn)
    _linear(out, f"{p}.linear2", cfg.decoder_ffn, d)
    for n in ("norm1", "norm2", "norm3"):
        _norm(out, f"{p}.{n}", d)
    _linear(out, "bs_map_r", d, NUM_BLENDSHAPES)
    return out


def check_keys(path, expected: dict, got: dict) -> None:
    """Raise a CheckpointError listing every missing, unexpected and mis-shaped key."""
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    shapes = sorted(
        f"{k}: file {tuple(got[k].shape)}, model {tuple(expected[k])}"
        for k in set(expected) & set(got) if tuple(got[k].shape) != tuple(expected[k])
    )
    if missing or unexpected or shapes:
        parts = []
        for title, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", shapes)):
            if items:
                shown = ", ".join(items[:12]) + (f", ... ({len(items)} in all)" if len(items) > 12 else "")
                parts.append(f"{title} ({len(items)}): {shown}")
        raise CheckpointError(f"{path}: does not fit the EmoTalk layout; " + "; ".join(parts))


# --- our format's fields in a safetensors header (``__metadata__`` holds strings only) ------------
def own_metadata(cfg: EmoTalkConfig, meta: dict | None) -> dict[str, str]:
    """The ``__metadata__`` of one of our safetensors files: format, configuration, model card."""
    return {"format": OWN_FORMAT, "config": json.dumps(cfg.to_dict()), "meta": json.dumps(dict(meta or {}))}


def parse_own_metadata(path, metadata: dict[str, str]) -> tuple[EmoTalkConfig, dict] | None:
    """(config, meta) from our header, or None for a plain safetensors file (the released layout)."""
    if metadata.get("format") != OWN_FORMAT:
        return None
    try:
        cfg = EmoTalkConfig.from_dict(json.loads(metadata["config"]))
        meta = json.loads(metadata.get("meta", "{}"))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: bad model configuration ({exc})") from None
    return cfg, dict(meta)
