"""The Textual time-travel debugger behind ``flowmetal debug run.db [PROGRAM-ID]``.

``app.run_debugger(store_path, program_id)`` starts it. The engine it drives lives in
``flowmetal.runtime.timeline`` (any step, rebuilt from checkpoints), ``flowmetal.runtime.forks``
(what-if runs) and ``flowmetal.runtime.export``; this package is only the front end:
screens in ``screens/``, widgets by area in ``widgets/``, cross-widget messages in
``messages.py``. See docs/debugger.md for every key.
"""
