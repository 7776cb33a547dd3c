# EmoTalk for Blender: setup, tests, demo. Every target sets itself up first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup test demo bench setup42 test42 build
setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-train.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

test: setup
	$(PY) -m pytest -q tests

bench: setup
	$(PY) bench/run_all.py

# The main job on the shipped defaults: audio in, an animated .blend and a preview MP4 (with sound) out.
demo: setup
	$(PY) -m emotalk_blender bake samples/sample.flac -o out/demo.blend --preview out/demo.mp4
	@echo "wrote out/demo.blend and out/demo.mp4"

# Regenerate the default head (deterministic) and the contact sheet of its 52 targets.
head: setup
	$(PY) scripts/make_default_head.py
	$(PY) scripts/render_contact_sheet.py

# Blender 4.2 LTS side (the pre-slotted-action API): its own venv, the Blender-facing tests.
VENV42 := .venv42
PY42 := $(VENV42)/bin/python
setup42: $(VENV42)/.installed

$(VENV42)/.installed: requirements-blender42.txt
	test -x $(PY42) || $(PYTHON) -m venv $(VENV42)
	$(PY42) -m pip install -q --upgrade pip
	$(PY42) -m pip install -q -r requirements-blender42.txt
	touch $@

test42: setup42
	$(PY42) -m pytest -q tests/test_blender_*.py tests/test_build.py tests/test_livelinkface.py

# The installable extension zip, validated by Blender's own tool: dist/emotalk_blender-<ver>.zip
build: setup
	$(PY) build.py
