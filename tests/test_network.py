"""The network against independent implementations: transformers' wav2vec2, torch's decoder layer,
and the released loop construction of the periodic mask."""
import math

import pytest
import torch
from torch import nn

from emotalk_blender.engine.network.checkpoint import canonical_key
from emotalk_blender.engine.network.model import (DecoderLayer, EmoTalk, EmoTalkConfig, periodic_bias,
                                                  receptive_samples, small_config)
from emotalk_blender.engine.network.wav2vec2 import Wav2Vec2Config, Wav2Vec2Model, output_length

transformers = pytest.importorskip("transformers")


def hf_pair(cfg: Wav2Vec2Config, seed=0):
    """transformers' Wav2Vec2Model and ours with the same random weights."""
    hf_cfg = transformers.Wav2Vec2Config(
        hidden_size=cfg.hidden_size, num_hidden_layers=cfg.num_layers, num_attention_heads=cfg.num_heads,
        intermediate_size=cfg.ffn_size, conv_dim=list(cfg.conv_dim), conv_kernel=list(cfg.conv_kernel),
        conv_stride=list(cfg.conv_stride), num_conv_pos_embeddings=cfg.pos_conv_kernel,
        num_conv_pos_embedding_groups=cfg.pos_conv_groups, feat_extract_norm="layer",
        do_stable_layer_norm=True, conv_bias=True, layer_norm_eps=cfg.layer_norm_eps,
        hidden_act="gelu", feat_extract_activation="gelu", apply_spec_augment=False,
    )
    torch.manual_seed(seed)
    hf = transformers.Wav2Vec2Model(hf_cfg).eval()
    with torch.no_grad():  # upstream init leaves some tensors at 0/1: randomise everything
        for p in hf.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    ours = Wav2Vec2Model(Wav2Vec2Config(**{**cfg.__dict__, "lm_head_vocab": None})).eval()
    sd = {canonical_key(k): v for k, v in hf.state_dict().items()}
    ours.load_state_dict(sd, strict=True)
    return hf, ours


@pytest.mark.parametrize("cfg", [
    Wav2Vec2Config(conv_dim=(64,) * 7, hidden_size=96, num_layers=3, num_heads=4, ffn_size=192, pos_conv_kernel=16,
                   pos_conv_groups=4),
    Wav2Vec2Config(num_layers=2),  # full width (1024, 16 heads, 512-channel CNN, 128-tap pos conv)
], ids=["small", "large-width"])
def test_wav2vec2_matches_transformers(cfg):
    hf, ours = hf_pair(cfg)
    wav = torch.randn(2, 16000)
    with torch.no_grad():
        ref = hf(wav).last_hidden_state
        got = ours(wav)
    assert got.shape == ref.shape == (2, output_length(cfg, 16000), cfg.hidden_size)
    assert torch.allclose(got, ref, atol=1e-4, rtol=0), (got - ref).abs().max()


def released_biased_mask(n_head, max_seq_len, period):
    """The released (FaceFormer) construction, loops and all, as an independent reference."""
    def get_slopes(n):
        start = 2 ** (-2 ** -(math.log2(n) - 3))
        return [start * start ** i for i in range(n)]
    slopes = torch.Tensor(get_slopes(n_head))
    bias = torch.arange(start=0, end=max_seq_len, step=period).unsqueeze(1).repeat(1, period).view(-1) // period
    bias = -torch.flip(bias, dims=[0])
    alibi = torch.zeros(max_seq_len, max_seq_len)
    for i in range(max_seq_len):
        alibi[i, :i + 1] = bias[-(i + 1):]
    alibi = slopes.unsqueeze(1).unsqueeze(1) * alibi.unsqueeze(0)
    mask = (torch.triu(torch.ones(max_seq_len, max_seq_len)) == 1).transpose(0, 1)
    mask = mask.float().masked_fill(mask == 0, float("-inf")).masked_fill(mask == 1, 0.0)
    return mask.unsqueeze(0) + alibi


def test_periodic_bias_closed_form():
    ours = periodic_bias(4, 150, 30)
    ref = released_biased_mask(4, 150, 30)
    assert torch.equal(torch.isinf(ours), torch.isinf(ref))
    finite = torch.isfinite(ref)
    assert torch.allclose(ours[finite], ref[finite])
    # spot values of the closed form: -m_h * floor((i - j) / 30)
    assert ours[0, 100, 10].item() == pytest.approx(-0.25 * 3)
    assert ours[3, 59, 30].item() == pytest.approx(0.0)
    assert ours[1, 60, 30].item() == pytest.approx(-1 / 16)


def test_decoder_layer_matches_torch_with_released_masks():
    torch.manual_seed(0)
    d, heads, t, b = 64, 4, 45, 2
    ref = nn.TransformerDecoderLayer(d_model=d, nhead=heads, dim_feedforward=d, batch_first=True).eval()
    ours = DecoderLayer(d, heads, d, 0.1).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x, mem = torch.randn(b, t, d), torch.randn(b, t, d)
    bias = periodic_bias(heads, t, 30)
    tgt_mask = bias.repeat(b, 1, 1)  # (B * heads, T, T), batch-major as torch expects
    memory_mask = ~torch.eye(t, dtype=torch.bool)  # frame t sees memory frame t only
    with torch.no_grad():
        want = ref(x, mem, tgt_mask=tgt_mask, memory_mask=memory_mask)
        got = ours(x, mem, bias)
    assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()


def test_released_cnn_sees_400_samples():
    assert receptive_samples(Wav2Vec2Config()) == 400  # 25 ms of audio per CNN frame (frames 20 ms apart)


def test_released_architecture_size():
    with torch.device("meta"):
        model = EmoTalk(EmoTalkConfig())
    sd = model.state_dict()
    assert len(sd) == 882
    assert sum(v.numel() for v in sd.values()) == 640_570_427


def test_controls_fractional_level_and_style_mix():
    torch.manual_seed(0)
    model = EmoTalk(small_config()).eval()
    nn.init.normal_(model.bs_map_r.weight, std=0.1)
    wav = torch.randn(1, 16000)
    with torch.no_grad():
        lo, hi, mid = (model(wav, level=v) for v in (0.0, 1.0, 0.5))
        p3, p7 = model(wav, person=3), model(wav, person=7)
        mix = torch.zeros(24)
        mix[3] = mix[7] = 1.0
        both = model(wav, person=mix)
    assert not torch.allclose(lo, hi)
    assert not torch.allclose(mid, lo) and not torch.allclose(mid, hi)
    assert not torch.allclose(p3, p7)
    assert not torch.allclose(both, p3) and not torch.allclose(both, p7)
    with pytest.raises(ValueError):
        model(wav, level=1.5)
    with pytest.raises(ValueError):
        model(wav, person=24)


def test_output_length_is_ceil_n_over_16000_times_30():
    torch.manual_seed(0)
    model = EmoTalk(small_config()).eval()
    for n in (534, 16000, 16001, 48000 + 7):
        with torch.no_grad():
            y = model(torch.randn(1, n))
        assert y.shape == (1, math.ceil(n / 16000 * 30), 52)


def test_whole_model_matches_independent_reference():
    """Our EmoTalk against transformers' encoders + torch's decoder with the released masks."""
    from reference_emotalk import ReferenceEmoTalk

    torch.manual_seed(3)
    model = EmoTalk(small_config()).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    ref = ReferenceEmoTalk(model.config, model.state_dict())
    wav = torch.randn(1, 16000 * 2 + 123)
    with torch.no_grad():
        want = ref(wav, level=0, person=9)
        got = model(wav, level=0, person=9)
    assert got.shape == want.shape == (1, 61, 52)
    assert torch.allclose(got, want, atol=1e-4), (got - want).abs().max()
