"""The project's English sentence list: hand-written lines plus combinatorial ones.

Written for phonetic variety: every English phoneme occurs, with many bilabials (p, b, m),
labiodentals (f, v), rounded vowels (oo, oh, aw, w) and open vowels. Sentences are 5-11 words,
about 2-4 s of speech. The list is fixed (its own seed, independent of the corpus seed) so a
sentence id means the same words in every build.
"""
from __future__ import annotations

import random

HAND_WRITTEN = (
    "Bob paid for a map, then he went home.",
    "Maybe the puppy will bring back my pink ball.",
    "Please pass me the butter and the warm bread.",
    "My mother bought a purple umbrella in Paris.",
    "The boat moved slowly across the smooth blue pool.",
    "Few people have seen the view from the old fort.",
    "Vivian found five velvet gloves in the van.",
    "Who knew the new moon would look so huge?",
    "Judge Morgan showed the jury a rusty chain.",
    "The choir sang a cheerful song at the beach.",
    "Ruth and Joe wore thick wool coats through the storm.",
    "Our oyster boy brought noisy toys to the party.",
    "Thin threads of smoke rose above the thatched roof.",
    "Measure the beige fabric before you cut the pleasure boat sail.",
    "Yesterday the young yak chewed yellow grass.",
    "Why would anyone walk to work in this weather?",
    "The king sang a long song about the hungry lion.",
    "A quick brown fox jumps over the lazy dog.",
    "Big bubbles popped above the bubbling pot of soup.",
    "I could hardly hear the harp over the heavy rain.",
    "She sells seashells by the shore every summer.",
    "Put the book back on the top shelf, please.",
    "The whole village gathered for the midsummer feast.",
    "Mom made a plum pie for my brother's birthday.",
    "The zoo keeper fed the zebras at noon.",
    "Leave the heavy boxes by the front door.",
    "Rows of roses bloomed along the narrow road.",
    "The lawyer gave a thoughtful answer to the judge.",
    "Pam bought a map and a pair of boots.",
    "Every autumn the forest floor turns orange and brown.",
    "The baby bear played with a bright blue ball.",
    "Could you open the window before the movie starts?",
    "The photograph showed a boy beside a broken bike.",
    "Father fixed the faucet with a flat wrench.",
    "Grandmother hummed an old tune while baking bread.",
    "The pilot spoke calmly about the bumpy flight.",
    "Many small boats were moored in the harbour.",
    "We will meet by the bridge at half past nine.",
    "The music boomed from the basement all night.",
    "Who put the spoon in the blue bowl of soup?",
    "Oh no, the poor boy lost his new shoe!",
    "Paul took a photo of the foggy moor.",
    "The mayor promised better buses for the town.",
    "Bring me the map, the pen, and the paper.",
    "Fresh fish is sold at the market every morning.",
    "Jim's job is to watch the sheep on the hill.",
    "The bamboo fence bent in the powerful wind.",
    "Nobody believed the story about the big bad wolf.",
    "A warm bath is the best way to relax.",
    "Maple syrup tastes wonderful on pancakes.",
    "The rubber boots were muddy but still waterproof.",
    "Ben moved the piano up the narrow stairs.",
    "How about a walk through the park this afternoon?",
    "Your voice sounds beautiful on the old recording.",
    "The museum opens its doors at ten tomorrow.",
    "We waved goodbye as the ship pulled away.",
    "The mouse hid beneath the pile of old boxes.",
    "That was the worst movie I have ever seen.",
    "Don't forget to put the milk back in the fridge.",
    "The tiny owl perched on the bare branch.",
    "Bright lamps glowed above the empty platform.",
    "Maybe we should go home before the storm breaks.",
    "The boy threw the ball over the garden wall.",
    "The orchestra played a gloomy march for the mourners.",
    "Six thick thistle sticks lay by the path.",
    "The vast valley was covered in violet flowers.",
    "Mary measured the mirror with a metal ruler.",
    "A cup of hot cocoa would be perfect now.",
    "Each morning Bob jogs along the beach.",
    "The judge pushed the button and the bell rang.",
)

# Combinatorial part: subject, verb phrase, object, place. Word lists chosen for bilabials,
# labiodentals, rounded and open vowels, and every consonant cluster type.
_SUBJECTS = ("Bob", "Pam", "Maria", "Hugo", "Judy", "Thomas", "Vera", "Zoe", "George", "Sheila",
             "My brother", "The pilot", "Our neighbour", "The old man", "A young woman", "The teacher",
             "The farmer", "My uncle", "The baker", "Your cousin")
_VERBS = ("bought", "moved", "brought", "fixed", "washed", "chose", "pushed", "found", "loved",
          "measured", "threw", "caught", "painted", "borrowed", "wrapped", "polished", "dropped",
          "opened", "carried", "hid")
_OBJECTS = ("the blue boat", "a purple map", "the heavy box", "a broken mirror", "the yellow jug",
            "an empty bottle", "the smooth pebble", "a soft pillow", "the wooden spoon", "a woollen jumper",
            "the shiny violin", "a paper umbrella", "the big brown book", "a tiny bamboo flute",
            "the muddy boots", "a warm blanket", "the old photograph", "a bowl of plums",
            "the rusty bike", "a pot of soup")
_PLACES = ("by the window", "near the old bridge", "before the morning rain", "under the full moon",
           "behind the barn", "in the busy market", "at the beach", "on the top floor",
           "beside the pool", "through the thick fog", "after the movie", "for the whole family",
           "with both hands", "during the thunderstorm", "outside the museum", "above the fireplace",
           "in the parking lot", "beneath the maple tree", "on Monday morning", "at half past five")
_N_COMBINATORIAL = 320


def _combinatorial() -> tuple[str, ...]:
    rng = random.Random(20230524)  # fixed: sentence ids are stable across corpus seeds
    seen, out = set(HAND_WRITTEN), []
    while len(out) < _N_COMBINATORIAL:
        s = f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_PLACES)}."
        if s not in seen:
            seen.add(s)
            out.append(s)
    return tuple(out)


SENTENCES: tuple[str, ...] = HAND_WRITTEN + _combinatorial()
HELD_OUT_EVERY = 10  # sentence ids with id % 10 == 9 are never trained on


def is_held_out(sentence_id: int) -> bool:
    return sentence_id % HELD_OUT_EVERY == HELD_OUT_EVERY - 1


TRAIN_SENTENCES = tuple(i for i in range(len(SENTENCES)) if not is_held_out(i))
HELD_OUT_SENTENCES = tuple(i for i in range(len(SENTENCES)) if is_held_out(i))
