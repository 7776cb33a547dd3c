"""The command line: ``main.py`` (``python -m emotalk_blender generate ...`` and the dispatch of every
command), ``flags.py`` (the flags of a take's controls, made from the table of controls; ``bake`` uses
them too), ``presets.py`` (``presets``: emotion presets from your own clips) and ``emotion.py``
(``emotion``: what emotion each voice reads as). ``capture`` adds its own command from its room.

May import: every room and ``pipeline``; nothing imports ``cli`` but the package's ``__main__`` and
``blender/bake.py`` (the bake command shares generate's flags and their one check).
"""
