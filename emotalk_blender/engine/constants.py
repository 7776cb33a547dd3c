"""Timing facts shared by the whole project (one source of truth)."""
SAMPLE_RATE = 16_000  # Hz: the network's audio rate
FPS = 30  # frames per second of every EmoTalk motion array

# The released model's controls: its emotion head's 7 classes (in this order), its 24 speaking
# styles (``person``) and 2 emotion levels (0 low, 1 high).
EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
NUM_PERSONS = 24
NUM_LEVELS = 2


def frames_for_samples(n_samples: int) -> int:
    """Frame count of the motion for ``n_samples`` of 16 kHz audio: ``ceil(N / 16000 * 30)``."""
    # Integer form of ceil(N/16000*30) that is exact for any N (no float rounding at boundaries).
    return -(-int(n_samples) * FPS // SAMPLE_RATE)

