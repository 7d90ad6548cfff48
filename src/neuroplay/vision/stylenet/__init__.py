"""Trained feed-forward style networks: one network per painting, any photo, folder or video in a blink.

- :mod:`.network`: the transformer network (:class:`StyleNet`);
- :mod:`.train`: :func:`train` / :func:`resume` with the perceptual loss of ``neuroplay style``;
- :mod:`.model_file`: model files (:func:`load_model`, :func:`save_model`);
- :mod:`.apply`: :func:`stylize_image`, :func:`apply` (an image, a folder, a video);
- :mod:`.builtin`: the networks that ship in the package (``builtin:NAME``).
"""
