#!/bin/sh
# The third-generation default model (issue 28), every step after the corpus, in order.
#
#   scripts/train_gen3.sh train     # fine-tune the shipped model on the gen3 corpus under torchrun
#   scripts/train_gen3.sh screen    # a short check that the mixture trains (one rank, 1 thread, nice 15)
#   scripts/train_gen3.sh after     # presets, emotion calibration, evaluation of the exported model
#
# Shipping (how the third generation was shipped): copy $EXPORT to models/emotalk_default.safetensors and run
# `after` with EXPORT=models/emotalk_default.safetensors, so the presets, the calibration (keyed to the file)
# and the evaluation land beside it; compare the calibration with a `--plain` fit and keep the lower test ECE.
#
# Environment (defaults for this 2-core machine): CORPUS, SOURCES (grid_s1/, LJSpeech-1.1/, emodb/),
# RUN, MINUTES, NPROC, EXPORT, PYTHON. The corpus is built by
#   python -m emotalk_blender.training.grid capture --grid GRID --capture-model face_landmarker.task -o $SOURCES/grid_s1
#   python -m emotalk_blender.training.corpus build $CORPUS --size gen3 --sources $SOURCES
#   python -m emotalk_blender.training.gen3 $CORPUS --sources $SOURCES --kinds video   (GRID after its capture)
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
CORPUS=${CORPUS:-/work/data/corpus_gen3}
SOURCES=${SOURCES:-/work/data/gen3src_links}
RUN=${RUN:-runs/gen3}
MINUTES=${MINUTES:-100}
# The 15-min screen met p/b/m with 12 points to spare (97.6 %) but shut 21.5 % of LJSpeech's open
# vowels (target <= 12 %): the GRID captures close more than the rules, so the opening hinge weighs more.
W_OPEN=${W_OPEN:-6}
NPROC=${NPROC:-2}
EXPORT=${EXPORT:-runs/gen3/emotalk_gen3.safetensors}
NAME="EmoTalk default (third generation: real faces, real and emotional voices, 18 languages)"

case "${1:-}" in
  train)
    # (real_repeat stays 2: each real clip, GRID faces included, twice per epoch)
    exec "$PYTHON" -m torch.distributed.run --standalone --nproc-per-node "$NPROC" \
      -m emotalk_blender.training.train "$CORPUS" --run-dir "$RUN" --minutes "$MINUTES" --threads 1 \
      --w-open "$W_OPEN" --init models/emotalk_default.safetensors --name "$NAME" --export "$EXPORT"
    ;;
  screen)
    exec nice -n 15 "$PYTHON" -m emotalk_blender.training.train "$CORPUS" --run-dir "${RUN}-screen" \
      --minutes "${SCREEN_MINUTES:-15}" --threads 1 --workers 1 --init models/emotalk_default.safetensors \
      --name "$NAME (screen)"
    ;;
  after)
    "$PYTHON" scripts/make_emotion_presets.py "$CORPUS" --checkpoint "$EXPORT"
    "$PYTHON" -m emotalk_blender.training.emotion_calibration --checkpoint "$EXPORT" --sources "$SOURCES"
    "$PYTHON" -m emotalk_blender.training.evaluate "$CORPUS" --checkpoint "$EXPORT" \
      --splits synthetic,natural,real,grid,grid_fixtures,ljspeech,languages,emotion_real \
      --out "${EXPORT%.safetensors}_eval.json"
    ;;
  *)
    echo "usage: $0 train|screen|after" >&2
    exit 2
    ;;
esac
