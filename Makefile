# EmoTalk for Blender: setup, tests, demo. Every target sets itself up first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup test demo bench setup42 test42 setup52 test52 setup-stock42 test-stock build deps
setup: deps $(VENV)/.installed

# Debian packages the tests and the demo use (real speech, ffprobe, the corpus's real prompts): instant when
# present, installed quietly as root with apt-get, else one line with the command to run.
DEB_PACKAGES := espeak-ng libespeak-ng1 ffmpeg asterisk-core-sounds-en-wav asterisk-core-sounds-en \
	flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
deps:
	@sh scripts/install_deps.sh $(DEB_PACKAGES)

$(VENV)/.installed: requirements.txt requirements-train.txt requirements-dev.txt requirements-capture.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# ruff, configured in pyproject.toml (CI runs it before the tests).
.PHONY: lint
lint: setup
	$(PY) -m ruff check .

test: setup
	$(PY) -m pytest -q tests

bench: setup
	$(PY) bench/run_all.py

# The main job on the shipped defaults: audio in, an animated .blend and a preview MP4 (with sound) out.
demo: setup
	$(PY) -m emotalk_blender bake samples/sample.flac -o out/demo.blend --preview out/demo.mp4
	$(PY) scripts/render_demo_sheet.py --audio samples/sample.flac --out out/demo_sheet.png
	@echo "wrote out/demo.blend, out/demo.mp4 and out/demo_sheet.png (the widest and the closed mouth frames, named)"

# Regenerate the default head (deterministic) and the contact sheet of its 52 targets.
head: setup
	$(PY) scripts/make_default_head.py
	$(PY) scripts/render_contact_sheet.py

# Blender 4.2 LTS side (the pre-slotted-action API): its own venv, the Blender-facing tests.
VENV42 := .venv42
PY42 := $(VENV42)/bin/python
setup42: deps $(VENV42)/.installed

$(VENV42)/.installed: requirements-blender42.txt
	test -x $(PY42) || $(PYTHON) -m venv $(VENV42)
	$(PY42) -m pip install -q --upgrade pip
	$(PY42) -m pip install -q -r requirements-blender42.txt
	touch $@

test42: setup42
	$(PY42) -m pytest -q tests/test_blender_*.py tests/test_build.py tests/test_livelinkface.py tests/test_installer.py

# Blender 5.2 LTS (Python 3.13, from pyenv): bpy and pytest only, so the Blender-facing tests run without torch.
PYTHON313 ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)/versions/3.13.0/bin/python3.13
VENV52 := .venv52
PY52 := $(VENV52)/bin/python
setup52: deps $(VENV52)/.installed

$(VENV52)/.installed: requirements-blender52.txt
	test -x $(PY52) || $(PYTHON313) -m venv $(VENV52)
	$(PY52) -m pip install -q --upgrade pip
	$(PY52) -m pip install -q -r requirements-blender52.txt
	touch $@

test52: setup52
	$(PY52) -m pytest -q tests/test_blender_*.py tests/test_build.py tests/test_livelinkface.py tests/test_installer.py

# The stock-Blender test: the built zip installed into venvs holding only bpy (4.2 LTS here, 5.2 LTS is .venv52),
# driven from the main venv, compared with the torch CLI.
VENV_STOCK42 := .venv-stock42
setup-stock42: $(VENV_STOCK42)/.installed

$(VENV_STOCK42)/.installed: requirements-stock42.txt
	test -x $(VENV_STOCK42)/bin/python || $(PYTHON) -m venv $(VENV_STOCK42)
	$(VENV_STOCK42)/bin/python -m pip install -q --upgrade pip
	$(VENV_STOCK42)/bin/python -m pip install -q -r requirements-stock42.txt
	touch $@

test-stock: setup setup52 setup-stock42
	$(PY) -m pytest -q tests/test_stock_blender.py tests/test_stock_rig.py

# The installable extension zip, validated by Blender's own tool: dist/emotalk_blender-<ver>.zip
build: setup
	$(PY) build.py

# The third-generation default model (issue 28): scripts/train_gen3.sh train|screen|after
train-gen3 screen-gen3 after-gen3: setup
	scripts/train_gen3.sh $(subst -gen3,,$@)
