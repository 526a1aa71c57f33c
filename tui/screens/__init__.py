"""The debugger's screens: the program list, the debug view, and its dialogs."""
