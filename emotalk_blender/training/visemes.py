"""Phoneme timeline -> viseme -> ARKit pose, with coarticulation, at 30 fps.

Two phoneme alphabets come in: espeak-ng mnemonics (synthetic speech, ``espeak.Phone``) and
CMU/ARPAbet phones (pocketsphinx alignment of real speech). Both map to one viseme table, so
real and synthetic faces are made by the same rules.

Coarticulation: dominance functions (Cohen & Massaro 1993). Every phone i has a target pose P_i
and, per channel group g, a dominance D_ig(t) = a_ig * exp(-|t - c_i| / s_ig) around its centre
c_i. Each channel is the dominance-weighted mean of the targets:
    y_k(t) = sum_i D_ig(k)(t) P_ik / sum_i D_ig(k)(t).
Vowels dominate the jaw; consonants dominate what they articulate (bilabials the lip seal,
labiodentals the lower lip) and leave the rest weak, so lip rounding of a vowel spreads into
neighbouring consonants ("two", "boot") and a consonant's jaw follows the vowels around it.
Bilabial closures are then enforced as a hard constraint (the seal must be complete however short
the /p/), over at least 70 ms.

Stop closures: an espeak phone may carry a ``closure`` span measured from the waveform (see
espeak._closures); a bilabial seal is placed there. Otherwise (ARPAbet alignments, whose stop
phones cover closure and release) the phone's own span is the closure.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..engine.arkit import ARKIT_NAMES, INDEX, NUM_BLENDSHAPES
from ..engine.constants import FPS


def _pose(**weights: float) -> np.ndarray:
    """A 52-vector from short names; a name without side applies to both Left and Right."""
    v = np.zeros(NUM_BLENDSHAPES, np.float32)
    for name, w in weights.items():
        if name in INDEX:
            v[INDEX[name]] = w
        elif name + "Left" in INDEX:
            v[INDEX[name + "Left"]] = v[INDEX[name + "Right"]] = w
        else:
            raise KeyError(f"not an ARKit channel: {name}")
    return v


# Channel groups with their own dominance (what a phone controls strongly or leaves free).
_GROUP_CHANNELS = {
    "jaw": ["jawOpen", "mouthClose"],
    "seal": ["mouthPressLeft", "mouthPressRight", "mouthRollLower", "mouthRollUpper",
             "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft", "mouthUpperUpRight"],
    "round": ["mouthFunnel", "mouthPucker"],
    "spread": ["mouthStretchLeft", "mouthStretchRight", "mouthSmileLeft", "mouthSmileRight",
               "mouthDimpleLeft", "mouthDimpleRight"],
    "tongue": ["tongueOut", "jawForward", "mouthShrugLower", "mouthShrugUpper", "cheekPuff"],
}
GROUPS = tuple(_GROUP_CHANNELS)
_GROUP_OF = np.full(NUM_BLENDSHAPES, -1)
for _g, _names in enumerate(_GROUP_CHANNELS.values()):
    for _n in _names:
        _GROUP_OF[INDEX[_n]] = _g
# The channels this module writes; everything else (brows, eyes, cheeks squint, nose) is left 0
# for the emotion/style layers.
MOUTH_CHANNELS = np.flatnonzero(_GROUP_OF >= 0)


@dataclass(frozen=True)
class Viseme:
    """A mouth shape: target pose, dominance strength per group, spread (s) in seconds."""
    pose: np.ndarray
    dominance: dict[str, float]
    spread: float = 0.07


_V, _C_WEAK = 1.0, 0.15  # vowel jaw dominance; a consonant's weak hold on what it does not shape


def _vowel(spread=0.07, round_dom=0.8, **pose) -> Viseme:
    return Viseme(_pose(**pose), {"jaw": _V, "seal": 0.6, "round": round_dom, "spread": 0.6, "tongue": 0.5}, spread)


def _cons(strong: dict[str, float], spread=0.05, **pose) -> Viseme:
    dom = {g: _C_WEAK for g in GROUPS}
    dom.update(strong)
    return Viseme(_pose(**pose), dom, spread)


# The viseme table. Jaw follows vowel openness (open /a/ 0.5 ... close /i/ /u/ 0.12); rounded
# vowels funnel/pucker; spread vowels stretch; p/b/m seal the lips (jaw almost shut, mouthClose
# cancelling the remaining jaw opening, lips pressed); f/v tuck the lower lip under the teeth.
VISEMES: dict[str, Viseme] = {
    "sil": Viseme(_pose(jawOpen=0.02), {g: 0.5 for g in GROUPS}, 0.06),
    # Consonants
    "PBM": _cons({"jaw": 0.5, "seal": 3.0}, 0.04, jawOpen=0.06, mouthClose=0.06, mouthPress=0.35,
                 mouthRollLower=0.12, mouthRollUpper=0.08),
    "FV": _cons({"jaw": 0.4, "seal": 2.5}, 0.04, jawOpen=0.1, mouthClose=0.02, mouthRollLower=0.55,
                mouthUpperUp=0.2, mouthShrugUpper=0.1),
    "TH": _cons({"jaw": 0.5, "tongue": 2.0}, 0.04, jawOpen=0.14, tongueOut=0.35, mouthLowerDown=0.1),
    "TDN": _cons({"jaw": 0.35}, 0.045, jawOpen=0.12, mouthStretch=0.08),
    "SZ": _cons({"jaw": 0.5, "spread": 0.6}, 0.045, jawOpen=0.06, mouthStretch=0.2, mouthLowerDown=0.08,
                mouthUpperUp=0.06),
    "SH": _cons({"jaw": 0.4, "round": 1.5, "seal": 0.6}, 0.05, jawOpen=0.08, mouthFunnel=0.45,
                mouthPucker=0.2, mouthUpperUp=0.15, mouthLowerDown=0.12),
    "L": _cons({"jaw": 0.3}, 0.05, jawOpen=0.18, mouthLowerDown=0.06),
    "KG": _cons({"jaw": 0.3}, 0.05, jawOpen=0.16),
    "R": _cons({"jaw": 0.4, "round": 1.0}, 0.05, jawOpen=0.12, mouthFunnel=0.3, mouthPucker=0.2),
    "W": _cons({"jaw": 0.4, "round": 2.0}, 0.05, jawOpen=0.08, mouthPucker=0.65, mouthFunnel=0.3),
    "Y": _cons({"jaw": 0.4, "spread": 0.8}, 0.045, jawOpen=0.1, mouthStretch=0.18),
    "H": _cons({}, 0.05, jawOpen=0.2),
    # Vowels (jawOpen = openness)
    "AA": _vowel(jawOpen=0.5, mouthLowerDown=0.2, mouthUpperUp=0.05),
    "AE": _vowel(jawOpen=0.42, mouthStretch=0.18, mouthLowerDown=0.22, mouthUpperUp=0.1),
    "AH": _vowel(jawOpen=0.35, mouthLowerDown=0.12),
    "AO": _vowel(round_dom=1.3, jawOpen=0.4, mouthFunnel=0.4, mouthPucker=0.15, mouthLowerDown=0.1),
    "EH": _vowel(jawOpen=0.3, mouthStretch=0.15, mouthLowerDown=0.15, mouthUpperUp=0.05),
    "ER": _vowel(round_dom=1.0, jawOpen=0.2, mouthFunnel=0.3, mouthPucker=0.15),
    "IH": _vowel(jawOpen=0.18, mouthStretch=0.2, mouthLowerDown=0.08),
    "IY": _vowel(jawOpen=0.12, mouthStretch=0.3, mouthSmile=0.08, mouthUpperUp=0.05),
    "OW": _vowel(round_dom=1.5, jawOpen=0.3, mouthFunnel=0.5, mouthPucker=0.35),
    "UH": _vowel(round_dom=1.3, jawOpen=0.18, mouthFunnel=0.35, mouthPucker=0.35),
    "UW": _vowel(round_dom=1.8, jawOpen=0.12, mouthPucker=0.7, mouthFunnel=0.35),
    "SCHWA": _vowel(spread=0.06, jawOpen=0.22, mouthLowerDown=0.05),
}
BILABIAL = frozenset({"PBM"})

# ARPAbet (CMU, as pocketsphinx writes it) -> viseme; diphthongs are two visemes in sequence.
ARPABET: dict[str, tuple[str, ...]] = {
    "AA": ("AA",), "AE": ("AE",), "AH": ("AH",), "AO": ("AO",), "AW": ("AA", "UH"), "AY": ("AA", "IY"),
    "EH": ("EH",), "ER": ("ER",), "EY": ("EH", "IY"), "IH": ("IH",), "IY": ("IY",), "OW": ("OW", "UW"),
    "OY": ("AO", "IY"), "UH": ("UH",), "UW": ("UW",),
    "B": ("PBM",), "P": ("PBM",), "M": ("PBM",), "F": ("FV",), "V": ("FV",), "TH": ("TH",), "DH": ("TH",),
    "T": ("TDN",), "D": ("TDN",), "N": ("TDN",), "S": ("SZ",), "Z": ("SZ",), "SH": ("SH",), "ZH": ("SH",),
    "CH": ("SH",), "JH": ("SH",), "L": ("L",), "K": ("KG",), "G": ("KG",), "NG": ("KG",), "R": ("R",),
    "W": ("W",), "Y": ("Y",), "HH": ("H",), "SIL": ("sil",),
    # flite and festival (CMU phone set) add the reduced vowels and name the pause
    "AX": ("SCHWA",), "AXR": ("ER",), "PAU": ("sil",),
}

# espeak-ng English mnemonics (phoneme events of en, en-us and the British variants).
ESPEAK: dict[str, tuple[str, ...]] = {
    "p": ("PBM",), "b": ("PBM",), "m": ("PBM",), "f": ("FV",), "v": ("FV",), "T": ("TH",), "D": ("TH",),
    "t": ("TDN",), "d": ("TDN",), "n": ("TDN",), "t#": ("TDN",), "d#": ("TDN",), "n-": ("TDN",), "?": ("KG",),
    "s": ("SZ",), "z": ("SZ",), "S": ("SH",), "Z": ("SH",), "tS": ("SH",), "dZ": ("SH",),
    "l": ("L",), "l/": ("L",), "@L": ("SCHWA", "L"), "L": ("L",), "k": ("KG",), "g": ("KG",), "N": ("KG",),
    "x": ("KG",), "r": ("R",), "r-": ("R",), "w": ("W",), "W": ("W",), "j": ("Y",), "h": ("H",), "C": ("Y",),
    "a": ("AE",), "aa": ("AE",), "a#": ("AH",), "A:": ("AA",), "A@": ("AA", "ER"), "0": ("AO",), "V": ("AH",),
    "O:": ("AO",), "O@": ("AO", "ER"), "o@": ("OW", "ER"), "O": ("AO",), "o:": ("OW",),
    "E": ("EH",), "e@": ("EH", "SCHWA"), "eI": ("EH", "IY"), "e": ("EH",),
    "I": ("IH",), "I2": ("IH",), "I#": ("IH",), "i": ("IY",), "i:": ("IY",), "i@": ("IY", "SCHWA"), "i@3": ("IY", "ER"),
    "@": ("SCHWA",), "@2": ("SCHWA",), "@5": ("SCHWA",), "@-": ("SCHWA",), "3": ("ER",), "3:": ("ER",), "@r": ("ER",),
    "U": ("UH",), "U@": ("UH", "ER"), "u:": ("UW",), "u": ("UW",),
    "aI": ("AA", "IY"), "aI@": ("AA", "IY", "SCHWA"), "aI3": ("AA", "IY", "ER"),
    "aU": ("AA", "UH"), "aU@": ("AA", "UH", "SCHWA"),
    "OI": ("AO", "IY"), "oU": ("OW", "UW"), "@U": ("SCHWA", "UW"), "oU#": ("OW", "UW"),
}
_ESPEAK_PAUSE = re.compile(r"^_")


def espeak_visemes(symbol: str) -> tuple[str, ...]:
    """Viseme sequence of an espeak mnemonic; stress marks and unknown decorations tolerated."""
    if _ESPEAK_PAUSE.match(symbol) or not symbol:
        return ("sil",)
    if symbol == ";":  # palatalisation mark, not a sound of its own
        return ()
    for key in (symbol, symbol.rstrip("#0123456789;"), symbol.rstrip(":;"), symbol[:1]):
        if key in ESPEAK:
            return ESPEAK[key]
    return ("SCHWA",)  # unseen vowel-like symbol: a neutral mid shape


def arpabet_visemes(symbol: str) -> tuple[str, ...]:
    """Viseme sequence of an ARPAbet phone (stress digits and pocketsphinx noise tokens handled)."""
    s = symbol.strip().upper().rstrip("012")
    if s in ARPABET:
        return ARPABET[s]
    return ("sil",)  # +NSN+, +SPN+, <sil> and other non-speech


@dataclass
class Segment:
    viseme: str
    start: float
    end: float
    closure: tuple[float, float] | None = None  # bilabial seal span (s), when it is one


_MIN_CLOSURE = 0.07  # s: a bilabial seal lasts at least about two frames at 30 fps


def segments(phones, alphabet: str) -> list[Segment]:
    """Viseme segments from a phone list of objects with .symbol/.start/.end (seconds).

    alphabet: "espeak", "arpabet" or "ipa" (visemes_ipa.py). Diphthongs are split evenly; a phone's measured ``closure``
    (espeak stops) moves its start to the closure onset (see the module doc).
    """
    if alphabet not in ("espeak", "arpabet", "ipa"):
        raise ValueError(f"alphabet must be 'espeak', 'arpabet' or 'ipa', not {alphabet!r}")
    from .visemes_ipa import ipa_visemes  # every language espeak-ng speaks, in IPA

    lookup = {"espeak": espeak_visemes, "arpabet": arpabet_visemes, "ipa": ipa_visemes}[alphabet]
    out: list[Segment] = []
    for k, ph in enumerate(phones):
        vis = lookup(ph.symbol)
        start, end = float(ph.start), float(ph.end)
        if not vis:  # a modifier (espeak ";"): the previous shape simply lasts longer
            if out:
                out[-1].end = max(out[-1].end, end)
            continue
        closure = getattr(ph, "closure", None)
        if closure is not None:
            # A measured stop closure (espeak): the viseme holds over closure and release.
            start = min(start, closure[0])
            if out and out[-1].end > start:
                out[-1].end = max(out[-1].start, start)
        else:
            closure = (start, end)
        step = (end - start) / len(vis)
        for j, v in enumerate(vis):
            s0, s1 = start + j * step, start + (j + 1) * step
            out.append(Segment(v, s0, s1, closure if v in BILABIAL else None))
    return out


def closure_spans(segs: list[Segment]) -> list[tuple[float, float]]:
    """Bilabial seal spans in seconds, each widened to at least _MIN_CLOSURE about its centre."""
    spans = []
    for s in segs:
        if s.closure is None:
            continue
        a, b = s.closure
        if b - a < _MIN_CLOSURE:
            c = 0.5 * (a + b)
            a, b = c - _MIN_CLOSURE / 2, c + _MIN_CLOSURE / 2
        spans.append((a, b))
    return spans


def frame_times(n_frames: int) -> np.ndarray:
    """Frame instants in seconds: frame i shows the face at t = i / FPS."""
    return np.arange(n_frames, dtype=np.float64) / FPS


def articulate(segs: list[Segment], n_frames: int) -> np.ndarray:
    """(n_frames, 52) mouth poses from viseme segments by dominance blending + bilabial seal."""
    t = frame_times(n_frames)[:, None]
    num = np.zeros((n_frames, NUM_BLENDSHAPES))
    den = np.zeros((n_frames, NUM_BLENDSHAPES))
    group_idx = np.clip(_GROUP_OF, 0, None)
    for s in segs:
        vis = VISEMES[s.viseme]
        centre = 0.5 * (s.start + s.end)
        half = 0.5 * (s.end - s.start)
        # Flat top over the segment, exponential tails outside it (long phones hold their shape).
        dist = np.maximum(np.abs(t - centre) - half, 0.0)
        dom_g = np.array([vis.dominance[g] for g in GROUPS])[group_idx]  # (52,)
        d = dom_g[None, :] * np.exp(-dist / vis.spread)
        num += d * vis.pose[None, :]
        den += d
    y = np.where(den > 1e-9, num / np.maximum(den, 1e-9), 0.0)
    y[:, _GROUP_OF < 0] = 0.0
    seal_frames(y, closure_spans(segs))
    return y.astype(np.float32)


_SEAL = VISEMES["PBM"].pose
_OPENERS = [INDEX[n] for n in ("mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
                                "mouthUpperUpRight", "mouthFunnel", "tongueOut")]


def seal_frames(y: np.ndarray, spans: list[tuple[float, float]]) -> None:
    """In place: frames inside a bilabial span get fully sealed lips (the hard constraint).

    Only the channels that open the lips are forced; rounding (pucker) and spreading may stay, so
    "boo" keeps its anticipatory pucker during the /b/.
    """
    if not spans:
        return
    t = frame_times(len(y))
    jaw, close = INDEX["jawOpen"], INDEX["mouthClose"]
    for a, b in spans:
        m = (t >= a) & (t <= b)
        if not m.any():  # a span between two frame instants: seal the nearest frame
            m = np.zeros(len(y), bool)
            m[min(len(y) - 1, int(round(0.5 * (a + b) * FPS)))] = True
        y[m, jaw] = np.minimum(y[m, jaw], _SEAL[jaw] + 0.04)
        y[m, close] = y[m, jaw]  # mouthClose cancels the jaw opening: lips meet
        for k in (INDEX["mouthPressLeft"], INDEX["mouthPressRight"], INDEX["mouthRollLower"], INDEX["mouthRollUpper"]):
            y[m, k] = np.maximum(y[m, k], _SEAL[k])
        y[m[:, None] & np.isin(np.arange(NUM_BLENDSHAPES), _OPENERS)[None, :]] = 0.0


# Lip aperture: how far the lips are apart, in ARKit terms. One definition for the corpus, its
# tests and the evaluation of bilabial closures.
CLOSED_APERTURE = 0.1
OPEN_APERTURE = 0.15  # above this: lips clearly apart (open vowels); the opening loss and its evaluation


def lip_aperture(y):
    """Per-frame lip opening of (..., T, 52) weights: jaw opening not cancelled by mouthClose, plus
    the lips' own parting (lower lip down, upper lip up, funnel). Below CLOSED_APERTURE = lips closed.
    Takes numpy arrays (computed in float64) or torch tensors (differentiable, for the training loss)."""
    if not hasattr(y, "detach"):
        y = np.asarray(y, dtype=np.float64)
    jaw = (y[..., INDEX["jawOpen"]] - y[..., INDEX["mouthClose"]]).clip(min=0.0)
    lips = 0.5 * (y[..., INDEX["mouthLowerDownLeft"]] + y[..., INDEX["mouthLowerDownRight"]]
                  + y[..., INDEX["mouthUpperUpLeft"]] + y[..., INDEX["mouthUpperUpRight"]]) / 2
    return jaw + lips + 0.5 * y[..., INDEX["mouthFunnel"]]


def mouth_track(phones, alphabet: str, n_frames: int) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Phone timeline -> ((n_frames, 52) mouth poses, bilabial closure spans in seconds)."""
    segs = segments(phones, alphabet)
    return articulate(segs, n_frames), closure_spans(segs)


assert all(v.pose.shape == (len(ARKIT_NAMES),) for v in VISEMES.values())
assert all(v in VISEMES for seq in list(ESPEAK.values()) + list(ARPABET.values()) for v in seq)
