"""The REPL (``flowmetal repl``) and the Pygments lexer.

``app.run_repl(db_path, session_name)`` is the entry point. The modules, front to back:
``app`` (the prompt-toolkit UI) and ``pipe`` (stdin not a terminal) feed a ``shell.Shell``,
which runs ``commands`` and talks to the runtime only through ``session.Session``.
``lexer``, ``completion``, ``names``, ``keys``, ``indent``, ``history``, ``forms``,
``pretty``, ``render`` and ``output`` are the parts they share. This package imports
nothing at load time, so ``pygmentize`` loading the lexer stays quick.
"""
