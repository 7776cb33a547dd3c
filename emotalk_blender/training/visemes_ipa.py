"""IPA -> viseme: one table for every language espeak-ng speaks (its phoneme events in IPA).

A phone's IPA is reduced to its base letters (length marks, nasalisation, palatalisation, tone
letters and other diacritics dropped: they hardly change what the lips show), then read letter by
letter: each vowel letter is a viseme (so a diphthong ``aɪ`` is two, as the ARPAbet table splits
them), an affricate (``tʃ``, ``ts``, ``tɕ``...) is its release, and a consonant cluster within one
event (``dʲ``) is its first consonant. Vowels go by height, backness and rounding onto the English
vowel visemes; consonants by place of articulation. The espeak-ng language switch markers
(``(en)``) and empty pause events are silence.
"""
from __future__ import annotations

import unicodedata

# Vowels: close front unrounded i -> IY ... open back a/ɑ -> AA; rounded vowels to the rounded visemes.
_VOWELS = {
    "i": "IY", "ɪ": "IH", "ɨ": "IH", "ɯ": "IH", "e": "EH", "ɛ": "EH", "æ": "AE", "a": "AA", "ä": "AA",
    "ɐ": "AH", "ɑ": "AA", "ʌ": "AH", "ə": "SCHWA", "ɘ": "SCHWA", "ɜ": "ER", "ɚ": "ER", "ɝ": "ER",
    "ɤ": "AH", "ɶ": "AO", "ɒ": "AO", "ɔ": "AO", "o": "OW", "ʊ": "UH", "u": "UW", "y": "UW", "ʏ": "UH",
    "ø": "UH", "œ": "AO", "ɵ": "UH", "ʉ": "UW", "ɞ": "AO",
}
_CONSONANTS = {
    # bilabial: the lips seal (fricatives and the approximant nearly; shown as a seal, briefly)
    "p": "PBM", "b": "PBM", "m": "PBM", "ɓ": "PBM", "ɸ": "PBM", "β": "PBM", "ʙ": "PBM",
    "f": "FV", "v": "FV", "ʋ": "FV", "ɱ": "FV",
    "θ": "TH", "ð": "TH",
    "t": "TDN", "d": "TDN", "n": "TDN", "ɗ": "TDN", "ʈ": "TDN", "ɖ": "TDN", "ɳ": "TDN", "ɾ": "TDN", "ɽ": "TDN",
    "s": "SZ", "z": "SZ", "ɬ": "SZ", "ɮ": "SZ",
    "ʃ": "SH", "ʒ": "SH", "ɕ": "SH", "ʑ": "SH", "ʂ": "SH", "ʐ": "SH",
    "l": "L", "ɫ": "L", "ɭ": "L", "ʎ": "L", "ɺ": "L",
    "r": "R", "ɹ": "R", "ɻ": "R", "ʀ": "R",
    "j": "Y", "ç": "Y", "ʝ": "Y", "ɲ": "Y", "c": "KG", "ɟ": "KG",
    "k": "KG", "g": "KG", "ɡ": "KG", "ŋ": "KG", "x": "KG", "ɣ": "KG", "ɰ": "KG", "q": "KG", "ɢ": "KG",
    "ɴ": "KG", "χ": "H", "ʁ": "H", "ħ": "H", "ʕ": "H", "h": "H", "ɦ": "H", "ʔ": "H", "ʜ": "H", "ʢ": "H",
    "w": "W", "ɥ": "W", "ʍ": "W",
}
_AFFRICATE_STARTS = frozenset("tdʈɖ")
_AFFRICATE_RELEASES = frozenset("ʃʒɕʑʂʐszθð")
# modifier letters that are not sounds of their own (length, palatalisation, aspiration, ...)
_MODIFIERS = frozenset("ːˑʲʷˠˤʰʱⁿˡᵝ˞ʼ-'ˈˌ.|‿̃͡")


def base_letters(symbol: str) -> str:
    """The phone's letters without diacritics, modifiers or tone marks."""
    out = []
    for ch in unicodedata.normalize("NFD", symbol):
        if unicodedata.combining(ch) or ch in _MODIFIERS or ch.isdigit():
            continue
        if unicodedata.category(ch) == "Sk" or ch in "˥˦˧˨˩":
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out)).replace("ä", "a")


def ipa_visemes(symbol: str) -> tuple[str, ...]:
    """Viseme sequence of one IPA phone event; () for none of ours (silence comes as ``sil``)."""
    if not symbol or symbol.startswith("("):  # a pause, or espeak's language switch marker
        return ("sil",)
    letters = base_letters(symbol)
    if not letters:
        return ("sil",)
    if len(letters) >= 2 and letters[0] in _AFFRICATE_STARTS and letters[1] in _AFFRICATE_RELEASES:
        letters = letters[1:]  # an affricate shows its release
    out: list[str] = []
    consonant_done = False
    for ch in letters:
        if ch in _VOWELS:
            out.append(_VOWELS[ch])
        elif ch in _CONSONANTS and not consonant_done and not out:
            out.append(_CONSONANTS[ch])
            consonant_done = True
    return tuple(out) or ("SCHWA",)  # an unknown letter: a neutral mid shape, as the espeak table does


def unknown_letters(symbols) -> set[str]:
    """Base letters of ``symbols`` that the table does not know (the test of a language's coverage)."""
    known = set(_VOWELS) | set(_CONSONANTS)
    return {ch for s in symbols if s and not s.startswith("(") for ch in base_letters(s) if ch not in known}
