"""The command line: ``main.py`` (``python -m emotalk_blender generate ...`` and the dispatch of every
command), ``presets.py`` (``presets``: emotion presets from your own clips) and ``emotion.py``
(``emotion``: what emotion each voice reads as). ``capture`` adds its own command from its room.

May import: every room and ``pipeline``; nothing imports ``cli`` but the package's ``__main__``.
"""
