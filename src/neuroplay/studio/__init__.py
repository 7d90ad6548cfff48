"""The browser studio: every experiment in a local web page, run, watched and kept.

A thin layer over the library, like :mod:`neuroplay.cli`: layout and event wiring only. Each tab
(``tab_*.py``) calls the functions the command line calls, with progress callbacks and a stop
flag; :mod:`.jobs` runs them one at a time in their own folders, :mod:`.uploads` checks what the
page is handed, :mod:`.app` builds and serves the page. Start it with ``neuroplay studio``.

Importing this package imports nothing heavy; :mod:`.app` brings in Gradio.
"""
