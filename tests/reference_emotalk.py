"""An independent eager implementation of the released EmoTalk inference path, for tests and benchmarks.

Built from transformers' Wav2Vec2Model (both encoders) and torch's nn.TransformerDecoder with the
released masks, loaded from one of our state_dicts. It shares no code with emotalk_blender's
network, so agreement checks our model end to end, and timing it gives the baseline of bench/.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
import transformers
from torch import nn

from emotalk_blender.engine.network.checkpoint import canonical_key


def _hf_encoder(cfg, sd: dict, prefix: str):
    hf_cfg = transformers.Wav2Vec2Config(
        hidden_size=cfg.hidden_size, num_hidden_layers=cfg.num_layers, num_attention_heads=cfg.num_heads,
        intermediate_size=cfg.ffn_size, conv_dim=list(cfg.conv_dim), conv_kernel=list(cfg.conv_kernel),
        conv_stride=list(cfg.conv_stride), num_conv_pos_embeddings=cfg.pos_conv_kernel,
        num_conv_pos_embedding_groups=cfg.pos_conv_groups, feat_extract_norm="layer", do_stable_layer_norm=True,
        conv_bias=True, layer_norm_eps=cfg.layer_norm_eps, apply_spec_augment=False,
    )
    with torch.device("meta"):
        model = transformers.Wav2Vec2Model(hf_cfg)
    names = {canonical_key(k): k for k in model.state_dict()}
    mine = {k[len(prefix):]: v for k, v in sd.items()
            if k.startswith(prefix) and not k[len(prefix):].startswith("lm_head.")}
    model.load_state_dict({names[k]: v for k, v in mine.items()}, strict=True, assign=True)
    return model.eval()


class ReferenceEmoTalk(nn.Module):
    def __init__(self, config, state_dict: dict):
        super().__init__()
        sd = state_dict
        self.cont = _hf_encoder(config.content, sd, "audio_encoder_cont.")
        self.emo = _hf_encoder(config.emotion, sd, "audio_encoder_emo.wav2vec2.")
        lin = lambda name: nn.Linear(sd[name + ".weight"].shape[1], sd[name + ".weight"].shape[0])  # noqa: E731
        self.map_cont, self.map_emo = lin("audio_feature_map_cont"), lin("audio_feature_map_emo")
        self.map_emo2 = lin("audio_feature_map_emo2")
        self.level, self.person, self.out = lin("obj_vector_level"), lin("obj_vector_person"), lin("bs_map_r")
        d = config.emotion_dim
        layer = nn.TransformerDecoderLayer(d_model=d, nhead=config.decoder_heads, dim_feedforward=config.decoder_ffn,
                                           batch_first=True)
        self.decoder = nn.TransformerDecoder(layer, num_layers=1)
        for mod, name in ((self.map_cont, "audio_feature_map_cont"), (self.map_emo, "audio_feature_map_emo"),
                          (self.map_emo2, "audio_feature_map_emo2"), (self.level, "obj_vector_level"),
                          (self.person, "obj_vector_person"), (self.out, "bs_map_r"),
                          (self.decoder, "transformer_decoder")):
            mod.load_state_dict({k[len(name) + 1:]: v for k, v in sd.items() if k.startswith(name + ".")}, strict=True)
        self.heads, self.period = config.decoder_heads, config.period
        self.eval()

    @staticmethod
    def _interp(x, n):
        return F.interpolate(x.transpose(1, 2), size=n, align_corners=True, mode="linear").transpose(1, 2)

    def _run(self, enc, wav, frames_before):
        feats = enc.feature_extractor(wav).transpose(1, 2)
        feats = self._interp(feats, frames_before(feats.shape[1]))
        hidden, _ = enc.feature_projection(feats)
        return enc.encoder(hidden).last_hidden_state

    def forward(self, wav, level: int = 1, person: int = 0):
        t = math.ceil(wav.shape[1] / 16000 * 30)
        wav = (wav - wav.mean()) / torch.sqrt(wav.var(unbiased=False) + 1e-7)
        cont = self._run(self.cont, wav, lambda n: t)
        emo = self._interp(self._run(self.emo, wav, lambda n: max(1, int(n / 50 * 30))), t)
        e832 = self.map_emo(emo)
        lvl = self.level(F.one_hot(torch.tensor([level]), 2).float()).unsqueeze(1).repeat(1, t, 1)
        per = self.person(F.one_hot(torch.tensor([person]), 24).float()).unsqueeze(1).repeat(1, t, 1)
        x = torch.cat([self.map_cont(cont), F.relu(self.map_emo2(e832)), lvl, per], dim=2)
        # masks built the released way: periodic ALiBi (FaceFormer) and the diagonal memory mask
        start = 2 ** (-2 ** -(math.log2(self.heads) - 3))
        slopes = torch.tensor([start * start ** i for i in range(self.heads)])
        i = torch.arange(t)
        alibi = -((i[:, None] - i[None, :]).clamp(min=0) // self.period).float()
        tgt = torch.triu(torch.full((t, t), float("-inf")), 1)[None] + slopes[:, None, None] * alibi[None]
        mem = torch.ones(t, t).fill_diagonal_(0).bool()
        return self.out(self.decoder(x, e832, tgt_mask=tgt, memory_mask=mem))
